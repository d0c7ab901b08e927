"""The shared kernel below every app: money field sizes, API and page plumbing, admin bases, domain
events and errors.

Plain Python, not a Django app (no models, no templates): anything here may be imported by every app
and imports none of them (tests/test_architecture.py keeps it so).
"""
