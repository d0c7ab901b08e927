// The position page's candle chart (TradingView Lightweight Charts, vendored): candles, the ladder drawn
// across them (legs, take-profits, average entry, target, stop), and the fills as markers.
//
// Data: GET <section data-chart-url> (JSON, trading.views.position_chart), again after the answer's
// poll_seconds (REFRESH_MS until an answer says); the page's htmx refresh never touches the chart, so
// zoom and scroll survive. The ladder is one series primitive: it draws each line and its label in the
// pane and lays the labels out so that none overlaps another (layoutLabels), whatever the zoom; when
// the pane is too short to label every line, the take-profits give way first, then the legs (the
// lines are still drawn; every price is in the tables).
// The labels sit at the pane's left edge, over the oldest context candles, so that the latest candles
// and the price axis stay clear. Its autoscale includes every ladder price, so a leg far below the
// candles is on the chart too.
//
// No inline script or style: the Content-Security-Policy allows neither. The library's own attribution
// logo injects a <style> element, so it is off and the page links to TradingView instead (license).
(function () {
  "use strict";

  var REFRESH_MS = 10000;
  var LABEL_HEIGHT = 16;  // px: 11 px text with 2.5 px above and below
  var LABEL_GAP = 2;  // px between two labels
  var LABEL_FONT = "11px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  var LABEL_MARGIN = 6;  // px between the pane's left edge and the labels
  var LEADER = 10;  // px of the leader from a label to its line
  var CANDLE_UP = "#26a69a", CANDLE_DOWN = "#ef5350";  // TradingView's own candle colours
  var STYLE = {
    "leg-filled": {color: "#0f7b3f", dash: [], width: 1.5, priority: 2},
    "leg-open": {color: "#667085", dash: [4, 3], width: 1, priority: 2},
    "leg-cancelled": {color: "#98a2b3", dash: [1, 3], width: 1, priority: 2},
    "take-profit": {color: "#12b76a", dash: [6, 3], width: 1, priority: 1},
    "average": {color: "#1d4ed8", dash: [], width: 2, priority: 3},
    "exit": {color: "#7a2e98", dash: [], width: 2, priority: 3},
    "target": {color: "#0e9384", dash: [8, 3], width: 2, priority: 3},
    "stop": {color: "#b42318", dash: [8, 3], width: 2, priority: 3}
  };

  // Labels' vertical places: each as close to its line's y as it can be without overlapping another
  // label or leaving [top, bottom]. items: [{y, priority}]; returns [{index, top}] for the labels that
  // fit, highest priority kept first (then the order of the lines). Pure: tested in the browser.
  function layoutLabels(items, top, bottom, height, gap) {
    var pitch = height + gap;
    var capacity = Math.max(0, Math.floor((bottom - top + gap) / pitch));
    var candidates = items.map(function (item, index) { return {index: index, y: item.y, priority: item.priority}; })
      .filter(function (item) { return item.y !== null && item.y >= top && item.y <= bottom; });
    var kept = candidates.slice().sort(function (a, b) { return b.priority - a.priority || a.index - b.index; })
      .slice(0, capacity)
      .sort(function (a, b) { return a.y - b.y || a.index - b.index; });
    var placed = kept.map(function (item) {
      return {index: item.index, top: Math.min(Math.max(item.y - height / 2, top), bottom - height)};
    });
    for (var i = 1; i < placed.length; i++) {  // downwards: push each below the one above
      placed[i].top = Math.max(placed[i].top, placed[i - 1].top + pitch);
    }
    for (var j = placed.length - 1; j >= 0; j--) {  // upwards: pull back inside the bottom
      var limit = j === placed.length - 1 ? bottom - height : placed[j + 1].top - pitch;
      placed[j].top = Math.min(placed[j].top, limit);
    }
    return placed;
  }

  function LadderRenderer(primitive) { this.primitive = primitive; }

  LadderRenderer.prototype.draw = function (target) {
    var primitive = this.primitive;
    target.useMediaCoordinateSpace(function (scope) {
      var ctx = scope.context, width = scope.mediaSize.width, height = scope.mediaSize.height;
      var lines = primitive.lines.map(function (line) {
        var y = primitive.series.priceToCoordinate(line.price);
        return {line: line, y: y, priority: (STYLE[line.kind] || STYLE["leg-open"]).priority};
      });
      ctx.font = LABEL_FONT;
      var labelWidth = 0;
      lines.forEach(function (item) { labelWidth = Math.max(labelWidth, ctx.measureText(item.line.text).width + 8); });
      var labelLeft = LABEL_MARGIN, lineLeft = LABEL_MARGIN + labelWidth + LEADER;
      var placed = layoutLabels(lines, 2, height - 2, LABEL_HEIGHT, LABEL_GAP);
      var drawn = [];
      lines.forEach(function (item) {
        if (item.y === null || item.y < 0 || item.y > height) return;
        var style = STYLE[item.line.kind] || STYLE["leg-open"];
        ctx.strokeStyle = style.color;
        ctx.lineWidth = style.width;
        ctx.setLineDash(style.dash);
        ctx.beginPath();
        ctx.moveTo(lineLeft, Math.round(item.y) + 0.5);
        ctx.lineTo(width, Math.round(item.y) + 0.5);
        ctx.stroke();
      });
      ctx.setLineDash([]);
      ctx.textBaseline = "middle";
      placed.forEach(function (place) {
        var item = lines[place.index], style = STYLE[item.line.kind] || STYLE["leg-open"];
        var middle = place.top + LABEL_HEIGHT / 2;
        ctx.strokeStyle = style.color;
        ctx.lineWidth = 1;
        ctx.beginPath();  // a leader from the line's end to its label, which may sit a little above or below
        ctx.moveTo(lineLeft, Math.round(item.y) + 0.5);
        ctx.lineTo(labelLeft + labelWidth, middle);
        ctx.stroke();
        ctx.fillStyle = "#ffffff";
        ctx.fillRect(labelLeft, place.top, labelWidth, LABEL_HEIGHT);
        ctx.strokeRect(labelLeft + 0.5, place.top + 0.5, labelWidth - 1, LABEL_HEIGHT - 1);
        ctx.fillStyle = style.color;
        ctx.fillText(item.line.text, labelLeft + 4, middle);
        drawn.push({text: item.line.text, kind: item.line.kind, lineY: item.y, top: place.top,
                    bottom: place.top + LABEL_HEIGHT, left: labelLeft, right: labelLeft + labelWidth});
      });
      primitive.drawn = {
        lines: lines.filter(function (item) { return item.y !== null && item.y >= 0 && item.y <= height; })
          .map(function (item) { return {kind: item.line.kind, text: item.line.text, y: item.y}; }),
        labels: drawn, paneHeight: height, paneWidth: width
      };
    });
  };

  // A series primitive (Lightweight Charts' plugin interface): one pane view drawing the whole ladder.
  function LadderPrimitive() {
    this.lines = [];
    this.drawn = {lines: [], labels: []};
    var renderer = new LadderRenderer(this);
    this._views = [{zOrder: function () { return "top"; }, renderer: function () { return renderer; }}];
  }
  LadderPrimitive.prototype.attached = function (param) { this.series = param.series; this._requestUpdate = param.requestUpdate; };
  LadderPrimitive.prototype.detached = function () { this.series = null; };
  LadderPrimitive.prototype.updateAllViews = function () {};
  LadderPrimitive.prototype.paneViews = function () { return this._views; };
  LadderPrimitive.prototype.autoscaleInfo = function () {
    if (!this.lines.length) return null;
    var prices = this.lines.map(function (line) { return line.price; });
    return {priceRange: {minValue: Math.min.apply(null, prices), maxValue: Math.max.apply(null, prices)}};
  };
  LadderPrimitive.prototype.setLines = function (lines) {
    this.lines = lines.map(function (line) { return {price: Number(line.price), text: line.text, kind: line.kind}; });
    if (this._requestUpdate) this._requestUpdate();
  };

  function markerOf(marker) {
    // Buys below the candle pointing up, sells above pointing down, whichever the position's side.
    var buy = marker.side === "buy";
    var color = marker.kind === "entry" ? "#1d4ed8" : marker.kind === "take-profit" ? "#0f7b3f" : "#7a2e98";
    return {time: marker.time, position: buy ? "belowBar" : "aboveBar", shape: buy ? "arrowUp" : "arrowDown",
            color: color, text: marker.text};
  }

  function start(section) {
    var LWC = window.LightweightCharts;
    var canvas = section.querySelector(".chart-canvas");
    var status = section.querySelector(".chart-status");
    var url = section.dataset.chartUrl;
    var chart = null, series = null, markers = null, ladder = new LadderPrimitive(), lastCandles = "";
    var pollMs = REFRESH_MS;
    var handle = {layoutLabels: layoutLabels, ladder: ladder, candles: function () { return series ? series.data().length : 0; }};
    section.positionChart = handle;  // for the browser tests

    function ensureChart() {
      if (chart) return;
      chart = LWC.createChart(canvas, {
        autoSize: true,
        layout: {attributionLogo: false, textColor: "#1d2330", background: {color: "#ffffff"}},
        grid: {vertLines: {color: "#f2f4f7"}, horzLines: {color: "#f2f4f7"}},
        timeScale: {timeVisible: true, secondsVisible: false},
        rightPriceScale: {scaleMargins: {top: 0.08, bottom: 0.08}}
      });
      series = chart.addSeries(LWC.CandlestickSeries, {
        upColor: CANDLE_UP, downColor: CANDLE_DOWN, borderVisible: false, wickUpColor: CANDLE_UP, wickDownColor: CANDLE_DOWN
      });
      series.attachPrimitive(ladder);
      markers = LWC.createSeriesMarkers(series, []);
      handle.chart = chart;
      handle.series = series;
    }

    function show(data) {
      if (data.poll_seconds) pollMs = data.poll_seconds * 1000;
      var text = data.message || "";
      if (data.fills_outside) text += " " + data.fills_outside + " fill(s) fall outside the candles shown.";
      status.textContent = text;
      section.dataset.state = data.state;
      if (!data.candles || !data.candles.length) return;
      ensureChart();
      if (data.price_format) {
        series.applyOptions({priceFormat: {type: "price", precision: data.price_format.precision,
                                           minMove: Number(data.price_format.min_move)}});
      }
      var key = JSON.stringify(data.candles[data.candles.length - 1]) + data.candles.length + ":" + data.interval_minutes;
      if (key !== lastCandles) {
        var first = !lastCandles;
        series.setData(data.candles.map(function (c) {
          return {time: c.time, open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close)};
        }));
        if (first) chart.timeScale().fitContent();
        lastCandles = key;
      }
      ladder.setLines(data.lines || []);
      markers.setMarkers((data.markers || []).map(markerOf));
    }

    function load() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) {
          if (!response.ok && response.status !== 401) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(show)
        .catch(function (error) { status.textContent = "The chart could not be loaded (" + error.message + "); retrying."; })
        .then(function () { window.setTimeout(load, pollMs); });
    }

    status.textContent = "Loading the chart…";
    load();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var section = document.getElementById("position-chart");
    if (section && window.LightweightCharts) start(section);
  });
  window.dcaLayoutLabels = layoutLabels;
})();
