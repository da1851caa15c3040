// Stop Huawei Cloud DCS (managed Redis) data-migration tasks as part of a deployment.
package dcsmigration
