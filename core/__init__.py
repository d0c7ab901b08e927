"""The shared kernel below every app: plumbing that several apps use and that imports no app."""
