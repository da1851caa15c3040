// Command sdkgen writes the SDK of a Pulumi package, for one language, from the package's schema.
//
// It does what `pulumi package gen-sdk <schema.json> --language L [--version V]` does in the
// pulumi CLI this module is pinned to (see go.mod), without a language host: the language hosts
// we can build here (python v3.79.0, nodejs v3.68.0) predate the GeneratePackage RPC that gen-sdk
// relies on, so this program calls the same code generators directly. The steps mirror
// pkg/cmd/pulumi/packagecmd/package_gen_sdk.go, packages.GenSDK and the hosts' GeneratePackage:
//
//  1. bind the schema (dangling references allowed, as gen-sdk does);
//  2. override the package version when --version is given;
//  3. marshal the bound package back to JSON and bind that again (what the host receives);
//  4. call the language's GeneratePackage with the tool name the host would pass
//     ("pulumi-language-<lang>") and write the files under --out.
//
// The loader answers every request with an error: enough for a schema that refers to no other
// package (ours). A schema that references another package's types fails with a clear message.
//
// Usage: sdkgen --schema schema.json --language nodejs|python|go --out DIR [--version X.Y.Z]
//
//	[--overlays DIR] [--local] [--force]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/blang/semver"
	"github.com/hashicorp/hcl/v2"

	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

// noLoader refuses to load other packages: the schemas we generate from are self-contained.
type noLoader struct{}

var errNoLoader = errors.New("sdkgen: this schema refers to another package, " +
	"which sdkgen cannot load (it only supports self-contained schemas)")

func (noLoader) LoadPackage(string, *semver.Version) (*schema.Package, error) {
	return nil, errNoLoader
}

func (noLoader) LoadPackageV2(context.Context, *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, errNoLoader
}

func (noLoader) LoadPackageReference(string, *semver.Version) (schema.PackageReference, error) {
	return nil, errNoLoader
}

func (noLoader) LoadPackageReferenceV2(
	context.Context, *schema.PackageDescriptor,
) (schema.PackageReference, error) {
	return nil, errNoLoader
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "sdkgen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	flags := flag.NewFlagSet("sdkgen", flag.ContinueOnError)
	schemaPath := flags.String("schema", "", "path of the package schema (JSON)")
	language := flags.String("language", "", "SDK language: nodejs, python or go")
	out := flags.String("out", "", "directory to write the SDK into (the files go directly in it)")
	version := flags.String("version", "", "package version to generate for (overrides the schema's)")
	overlays := flags.String("overlays", "", "directory of extra files to add (nodejs, python)")
	local := flags.Bool("local", false, "generate an SDK for local use (nodejs; as gen-sdk --local)")
	force := flags.Bool("force", false, "remove --out first when it exists and is not empty")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *schemaPath == "" || *language == "" || *out == "" || flags.NArg() != 0 {
		flags.Usage()
		return errors.New("--schema, --language and --out are required")
	}

	raw, err := os.ReadFile(*schemaPath)
	if err != nil {
		return err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("parse %s: %w", *schemaPath, err)
	}

	// 1-2. As `pulumi package gen-sdk`: bind, then apply --version.
	pkg, err := bind(spec, true)
	if err != nil {
		return fmt.Errorf("bind %s: %w", *schemaPath, err)
	}
	if *version != "" {
		v, err := semver.Parse(*version)
		if err != nil {
			return fmt.Errorf("invalid --version %q: %w", *version, err)
		}
		pkg.Version = &v
	}

	// 3. As packages.GenSDK and the language host: the host gets the bound package as JSON.
	bound, err := pkg.MarshalJSON()
	if err != nil {
		return err
	}
	spec = schema.PackageSpec{}
	if err := json.Unmarshal(bound, &spec); err != nil {
		return err
	}
	pkg, err = bind(spec, false)
	if err != nil {
		return err
	}

	extraFiles, err := readOverlays(*overlays)
	if err != nil {
		return err
	}

	// 4. The language's generator, as its host calls it.
	loader := schema.NewCachedLoader(noLoader{})
	var files map[string][]byte
	switch *language {
	case "nodejs":
		files, err = nodejs.GeneratePackage("pulumi-language-nodejs", pkg, extraFiles, nil, *local, loader)
	case "python":
		files, err = python.GeneratePackage("pulumi-language-python", pkg, extraFiles, loader)
	case "go":
		if len(extraFiles) > 0 {
			return errors.New("overlays are not supported for Go")
		}
		files, err = gogen.GeneratePackage("pulumi-language-go", pkg, nil)
	default:
		return fmt.Errorf("unsupported --language %q (nodejs, python or go)", *language)
	}
	if err != nil {
		return fmt.Errorf("generate %s SDK: %w", *language, err)
	}
	return writeFiles(*out, files, *force)
}

func bind(spec schema.PackageSpec, report bool) (*schema.Package, error) {
	pkg, diags, err := schema.BindSpec(spec, schema.NewCachedLoader(noLoader{}), schema.ValidationOptions{
		AllowDanglingReferences: true,
	})
	if err != nil {
		return nil, err
	}
	if report || diags.HasErrors() {
		printDiagnostics(diags)
	}
	if diags.HasErrors() {
		return nil, errors.New("the schema has errors")
	}
	return pkg, nil
}

func printDiagnostics(diags hcl.Diagnostics) {
	for _, d := range diags {
		kind := "warning"
		if d.Severity == hcl.DiagError {
			kind = "error"
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject != nil && d.Subject.Filename != "" {
			msg = d.Subject.Filename + ": " + msg
		}
		fmt.Fprintf(os.Stderr, "sdkgen: %s: %s\n", kind, msg)
	}
}

func readOverlays(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	if dir == "" {
		return files, nil
	}
	fsys := os.DirFS(dir)
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, path)
		if err != nil {
			return fmt.Errorf("read overlay file %q: %w", path, err)
		}
		files[path] = data
		return nil
	})
	return files, err
}

func writeFiles(out string, files map[string][]byte, force bool) error {
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		if !force {
			return fmt.Errorf("%s exists and is not empty (use --force to replace it)", out)
		}
		if err := os.RemoveAll(out); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(out, filepath.FromSlash(name))
		if rel, err := filepath.Rel(out, path); err != nil || strings.HasPrefix(rel, "..") {
			return fmt.Errorf("refusing to write %q outside %s", name, out)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "sdkgen: wrote %d files to %s\n", len(names), out)
	return nil
}
