"""The connector for real exchanges through ccxt: any ccxt exchange id, live or testnet (ccxt sandbox mode).

What this layer adds on top of ccxt, module by module:

- ``connector``: ``CcxtConnector``, the ``exchanges.connector.Connector`` for a real account. Plain
  values out (dataclasses with ``Decimal`` numbers), amounts and prices in as strings cut to the
  market's step and tick, never floats.
- ``transport``: the ccxt client (live or testnet, our defaults) and the hook that puts every HTTP
  request through the account's rate budget shared across processes (``exchanges.rate_budget``).
- ``markets``: the market list cached across processes (Django's cache, Redis in production), so a
  worker need not download Binance's multi-megabyte exchangeInfo for each signal.
- ``precision``: ccxt's precision values as ticks and steps, numbers as ``Decimal``.
- ``errors``: ccxt's exception tree mapped to retryable vs permanent; a placement whose answer was
  lost becomes ``OrderStatusUnknown`` (look it up by client order id before sending it again).
- ``candles``: candle intervals and OHLCV rows.
"""
