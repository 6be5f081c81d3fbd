"""The fleet's servers, one subpackage each, exporting a `SPEC` (see `mcpfleet.registry`)."""
