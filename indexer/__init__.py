"""From knowledge-base files to a searchable index: load, lint, analyse, build, search."""
