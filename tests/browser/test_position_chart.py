"""The position page's candle chart in chromium: TradingView's Lightweight Charts (vendored) draws the paper
feed's candles, one line per leg of every pyramid, and labels that never overlap.

What is checked is what the browser drew: the candles the series holds and their colours on the canvas,
the ladder's lines and labels as the chart's primitive laid them out in pixels, and each leg's line in
its colour at its height.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from exchanges.paper.candles import paper_prices_record
from exchanges.paper.services import paper_price_set
from risk.services import exchange_accounts_sync
from tests.browser.helpers import log_in, save_screenshot
from trading.models import Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

D = Decimal
CANDLE_COLOURS = ((0x26, 0xA6, 0x9A), (0xEF, 0x53, 0x50))  # up, down: position_chart.js
LEG_COLOURS = {"leg-filled": (0x0F, 0x7B, 0x3F), "leg-open": (0x66, 0x70, 0x85)}

# Pixels of the chart's canvases: how many are exactly each candle colour, and whether a colour runs along
# a row (a line, dashed or not) between two x's.
CANVAS_PROBE = """
([colours, rows]) => {
  const canvases = [...document.querySelectorAll('#position-chart canvas')];
  const counts = colours.map(() => 0);
  const found = rows.map(() => false);
  for (const canvas of canvases) {
    const ratio = canvas.width / canvas.getBoundingClientRect().width || 1;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      colours.forEach(([r, g, b], k) => { if (data[i] === r && data[i + 1] === g && data[i + 2] === b) counts[k]++; });
    }
    rows.forEach(([y, [r, g, b], from, to], k) => {
      const row = Math.round(y * ratio);
      for (let dy = -1; dy <= 1 && !found[k]; dy++) {
        for (let x = Math.round(from * ratio); x < Math.round(to * ratio); x++) {
          const at = ((row + dy) * canvas.width + x) * 4;
          if (Math.abs(data[at] - r) < 8 && Math.abs(data[at + 1] - g) < 8 && Math.abs(data[at + 2] - b) < 8) {
            found[k] = true; break;
          }
        }
      }
    });
  }
  return {counts, found};
}
"""


@pytest.fixture
def two_pyramids(route, trader):
    """A BTC/USDT long with two pyramids whose ladders interleave: 100, 99.5, 99, 98.5, 98 and 99.6, 99.1,
    98.6, 98.1, 97.6 (legs at 100 and 99.6 filled), so labels of neighbouring legs are 0.1 apart."""
    group = route().position_group
    paper_price_set(exchange_id="binance", symbol="BTC/USDT", price=D("99.6"))
    second = route(entry_price="99.6")
    assert second.position_group_id == group.pk and second.status == "pyramided", second.reason
    exchange_accounts_sync(user=trader)
    group.refresh_from_db()
    assert group.pyramid_count == 2
    return group


@pytest.fixture
def recorded_prices():
    """The paper feed's record of BTC/USDT for the last 90 minutes: a price every 30 s, swinging 99–101."""
    keys = [f"{kind}:binance:BTC/USDT" for kind in ("paper-candles", "paper-candle-forming")]
    cache.delete_many(keys)
    now = timezone.now()
    for step in range(180, -1, -1):
        swing = D((step * 7) % 17 - 8) / 8  # -1 … +1
        paper_prices_record("binance", {"BTC/USDT": D("100") + swing}, at=now - timedelta(seconds=30 * step))
    yield
    cache.delete_many(keys)


def test_the_position_chart_renders_candles_and_one_line_per_leg(
    page, live_server, trader, two_pyramids, recorded_prices
):
    group = two_pyramids
    legs = Order.objects.filter(group=group, role="entry").count()
    assert legs == 10

    # When the trader opens the position page
    log_in(page, live_server, trader)
    page.goto(f"{live_server.url}/positions/{group.pk}/")
    chart = page.locator("#position-chart")
    expect(chart).to_have_attribute("data-state", "ready")
    expect(page.locator("#position-chart-status")).to_contain_text("candles from the paper feed's recorded prices")
    page.wait_for_function(
        "() => document.getElementById('position-chart').positionChart.ladder.drawn.lines.length > 0"
    )
    drawn = page.evaluate(
        "() => { const h = document.getElementById('position-chart').positionChart;"
        " return {candles: h.candles(), drawn: h.ladder.drawn}; }"
    )
    save_screenshot(page, "7-position-chart")

    # Then the series holds the recorded 90 minutes as 3-minute candles (30 of them or more), drawn in colour
    assert 30 <= drawn["candles"] <= 32
    probe = page.evaluate(CANVAS_PROBE, [list(CANDLE_COLOURS), []])
    assert sum(probe["counts"]) > 500, f"no candle bodies on the canvas: {probe['counts']}"

    # And one line per leg of both pyramids, each in its colour at its height
    lines = drawn["drawn"]["lines"]
    leg_lines = [line for line in lines if line["kind"].startswith("leg-")]
    assert len(leg_lines) == legs
    assert sorted(line["text"].split(" ")[0] + " " + line["text"].split(" ")[1] for line in leg_lines) == sorted(
        f"P{p} L{n}" for p in (1, 2) for n in range(1, 6)
    )
    width = drawn["drawn"]["paneWidth"]
    rows = [[line["y"], list(LEG_COLOURS[line["kind"]]), width - 200, width - 20] for line in leg_lines]
    assert all(page.evaluate(CANVAS_PROBE, [[], rows])["found"]), "a leg's line is not on the canvas"
    assert any(line["kind"] == "average" for line in lines)

    # And no two labels overlap, all inside the pane, though 10 legs lie 0.1 apart
    labels = sorted(drawn["drawn"]["labels"], key=lambda label: label["top"])
    assert len(labels) >= legs
    for upper, lower in zip(labels, labels[1:], strict=False):
        assert upper["bottom"] <= lower["top"], f"{upper['text']} overlaps {lower['text']}"
    assert all(0 <= label["top"] and label["bottom"] <= drawn["drawn"]["paneHeight"] for label in labels)


def test_labels_that_cannot_all_fit_give_way_by_priority_and_never_overlap(page, live_server, trader):
    log_in(page, live_server, trader)
    page.add_script_tag(url=f"{live_server.url}/static/trading/position_chart.js")  # the layout, without a chart
    # 30 lines within 40 px of a 200 px pane: 11 labels of 16 px fit (2 px apart)
    items = [{"y": 80 + i * 40 / 30, "priority": 3 if i == 29 else (2 if i % 2 else 1)} for i in range(30)]

    placed = page.evaluate("([items]) => window.dcaLayoutLabels(items, 0, 200, 16, 2)", [items])

    assert len(placed) == 11
    assert 29 in [p["index"] for p in placed]  # the reference line keeps its label
    assert all(items[p["index"]]["priority"] >= 2 for p in placed)  # then legs, before take-profits
    tops = sorted(p["top"] for p in placed)
    assert all(b - a >= 18 for a, b in zip(tops, tops[1:], strict=False)) and tops[0] >= 0 and tops[-1] + 16 <= 200
