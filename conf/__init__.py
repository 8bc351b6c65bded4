"""bobench's Hydra configs, shipped as the package ``bench.conf`` (see pyproject.toml)."""
