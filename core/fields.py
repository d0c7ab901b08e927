"""Field sizes shared by every app's models."""

# Money and quantities: 28 digits with 12 places covers BTC prices to 1e16 and SHIB-sized steps.
MONEY = {"max_digits": 28, "decimal_places": 12}
