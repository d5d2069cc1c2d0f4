"""Release: from an adapter the suites passed to the model production serves.

registry.py  the MLflow model registry: content-addressed adapter store, versions, the champion alias
decision.py  the promotion rule: pytest's exit code, every gate, paired McNemar against the champion
promote.py   `harness promote`: run the suites, decide, register under a lock
"""
