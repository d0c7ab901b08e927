"""What stops TradingView from calling a webhook URL, without a database."""

import pytest

from trading.reachability import webhook_url_problems


@pytest.mark.parametrize(
    "url, says",
    [
        ("http://127.0.0.1:8000/webhooks/u/tradingview", ["this machine only", "Port 8000", "Plain http"]),
        ("http://localhost/webhooks/u/tradingview", ["this machine only", "Plain http"]),
        ("https://192.168.1.20/webhooks/u/tradingview", ["private address"]),
        ("https://10.0.0.5/webhooks/u/tradingview", ["private address"]),
        ("https://engine.example.com:8443/webhooks/u/tradingview", ["Port 8443"]),
        ("http://engine.example.com/webhooks/u/tradingview", ["Plain http"]),
        ("https://[::1]/webhooks/u/tradingview", ["this machine only"]),
    ],
)
def test_each_problem_is_named_with_the_fix(url, says):
    problems = webhook_url_problems(url)
    assert len(problems) == len(says)
    for problem, words in zip(problems, says, strict=True):
        assert words in problem and "PUBLIC_BASE_URL" in problem


@pytest.mark.parametrize(
    "url",
    [
        "https://engine.example.com/webhooks/u/tradingview",
        "https://engine.example.com:443/webhooks/u/tradingview",
        "https://52.89.214.238/webhooks/u/tradingview",
    ],
)
def test_a_public_https_url_on_443_has_no_problem(url):
    assert webhook_url_problems(url) == []
