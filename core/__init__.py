"""The shared kernel below every app: money field sizes, API plumbing, admin bases, domain events.

Plain Python, not a Django app (no models, no templates): anything here may be imported by every app
and imports none of them (tests/test_architecture.py keeps it so).
"""
