"""Tests of the DCS migration-task API simulator."""
