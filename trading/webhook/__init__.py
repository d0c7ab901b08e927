"""TradingView's webhook: ``urls`` mounts ``view``, which runs the checks in order; ``limits`` (rate limits
in the cache), ``addresses`` (client address, proxies, allowlist) and ``bodies`` (decoding, what is
stored of a body) are its parts."""
