"""API plumbing every app's API uses: NUL-refusing serializers, the error shape, query parameters, throttles."""
