"""CLI command modules: each module here adds its commands to `assistant.cli.app` (or `eval_app`) on import."""
