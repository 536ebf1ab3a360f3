"""An offline HTML page that administers a calibrated bank adaptively, and exports the answers
in the layout `alliance check` reads.

The page carries the calibration (slopes, intercepts, categories) and the stop rule, and does
in the browser what analysis/irt/adaptive.py does in Python: start at the prior, give the item
with the most information at the current EAP (information interpolated between the same 61
nodes), update the EAP after each answer, stop at SE below the rule's X after its minimum
number of items or at its maximum. Answers are stored as the codes of the item's own response
scale (a reverse-keyed item is stored as answered, as every export holds it). The download is
a CSV with respondent_id, session, date and one column per item of the form, blank where an
item was not asked. Nothing is sent anywhere: the page has no network access to ask for.
"""

from __future__ import annotations

import json
from datetime import date
from html import escape
from typing import Any

from analysis.irt import Calibration
from analysis.irt.adaptive import StopRule
from analysis.irt.grm import NODES, WEIGHTS
from instrument import Instrument
from instrument.exports import prompt_for
from instrument.exports.html_form import CSV_CELL_SCRIPT, page_start

_STYLE = """
body { font: 17px/1.5 system-ui, sans-serif; color: #111; max-width: 44rem; margin: 2rem auto;
       padding: 0 1rem; }
h1 { font-size: 1.45rem; }
.progress { color: #555; font-size: .9rem; }
.prompt { font-style: italic; color: #333; }
fieldset { border: 1px solid #999; border-radius: 6px; padding: .8rem 1rem; margin: 1rem 0; }
legend { font-weight: 600; padding: 0 .3rem; font-size: 1.1rem; }
.options label { display: block; padding: .35rem .2rem; cursor: pointer; }
input[type=radio] { width: 1.1rem; height: 1.1rem; margin-right: .5rem; }
button { font-size: 1rem; padding: .45rem 1.2rem; margin-top: .6rem; }
textarea { width: 100%; height: 8rem; font-family: monospace; font-size: .8rem; }
.colophon { color: #555; font-size: .85rem; margin-top: 2rem; }
[hidden] { display: none !important; }
""".strip()

_SCRIPT = r"""
"use strict";
const bank = JSON.parse(document.getElementById("bank").textContent);
const nodes = bank.nodes, logPrior = bank.weights.map(Math.log);

function probabilities(item, theta) {
  const star = [1];
  for (const d of item.d) star.push(1 / (1 + Math.exp(-(item.a * theta + d))));
  star.push(0);
  const p = [];
  for (let k = 0; k + 1 < star.length; k++) p.push(Math.max(star[k] - star[k + 1], 1e-300));
  return p;
}
function information(item, theta) {
  const star = [1];
  for (const d of item.d) star.push(1 / (1 + Math.exp(-(item.a * theta + d))));
  star.push(0);
  let total = 0;
  for (let k = 0; k + 1 < star.length; k++) {
    const slope = item.a * (star[k] * (1 - star[k]) - star[k + 1] * (1 - star[k + 1]));
    total += slope * slope / Math.max(star[k] - star[k + 1], 1e-300);
  }
  return total;
}
for (const scale of bank.scales) {
  for (const item of scale.items) {
    item.logp = nodes.map(t => probabilities(item, t).map(Math.log));
    item.info = nodes.map(t => information(item, t));
  }
}
function interp(x, xs, ys) {
  if (x <= xs[0]) return ys[0];
  if (x >= xs[xs.length - 1]) return ys[ys.length - 1];
  let j = 1;
  while (xs[j] < x) j++;
  const w = (x - xs[j - 1]) / (xs[j] - xs[j - 1]);
  return ys[j - 1] + w * (ys[j] - ys[j - 1]);
}
function moments(loglik) {
  const lp = loglik.map((v, q) => v + logPrior[q]);
  const top = Math.max(...lp);
  const w = lp.map(v => Math.exp(v - top));
  const s = w.reduce((a, b) => a + b, 0);
  let mean = 0, sq = 0;
  w.forEach((v, q) => { mean += v * nodes[q] / s; sq += v * nodes[q] * nodes[q] / s; });
  return [mean, Math.sqrt(Math.max(sq - mean * mean, 0))];
}
// The category of a raw answer: reverse-keyed items are turned around, then the largest
// calibrated code at or below it (the lowest when below them all).
function category(item, raw) {
  const keyed = item.reverse ? item.low + item.high - raw : raw;
  let c = 0;
  item.codes.forEach((code, k) => { if (code <= keyed) c = k; });
  return c;
}

const state = { scale: 0, asked: 0, answers: {}, order: [], loglik: null, theta: 0, se: 1,
                used: new Set(), current: null };
const $ = id => document.getElementById(id);

function nextItem() {
  const scale = bank.scales[state.scale];
  let best = null, bestInfo = -Infinity;
  scale.items.forEach((item, i) => {
    if (state.used.has(i)) return;
    const info = interp(state.theta, nodes, item.info);
    if (info > bestInfo) { bestInfo = info; best = i; }
  });
  return best;
}
function startScale() {
  state.loglik = nodes.map(() => 0);
  state.theta = 0; state.se = 1; state.used = new Set();
}
function show() {
  const scale = bank.scales[state.scale];
  const i = nextItem();
  state.current = i;
  const item = scale.items[i];
  $("prompt").textContent = scale.prompt;
  $("legend").textContent = item.text;
  $("progress").textContent = "Part " + (state.scale + 1) + " of " + bank.scales.length +
    ", question " + (state.used.size + 1);
  const box = $("options");
  box.replaceChildren();
  item.labels.forEach(([code, label], k) => {
    const lab = document.createElement("label");
    const input = document.createElement("input");
    input.type = "radio"; input.name = "answer"; input.value = String(code);
    input.id = "option-" + k;
    lab.append(input, document.createTextNode(label));
    box.append(lab);
  });
  $("next").disabled = true;
  box.onchange = () => { $("next").disabled = false; };
}
function answer() {
  const chosen = document.querySelector("input[name=answer]:checked");
  if (!chosen) return;
  const scale = bank.scales[state.scale];
  const item = scale.items[state.current];
  const raw = Number(chosen.value);
  state.answers[item.id] = raw;
  state.order.push(item.id);
  const c = category(item, raw);
  state.loglik = state.loglik.map((v, q) => v + item.logp[q][c]);
  state.used.add(state.current);
  [state.theta, state.se] = moments(state.loglik);
  const n = state.used.size;
  const stop = (n >= bank.stop.min && state.se < bank.stop.se) || n >= bank.stop.max ||
    n >= scale.items.length;
  if (stop) {
    state.scale += 1;
    if (state.scale >= bank.scales.length) return finish();
    startScale();
  }
  show();
}
function finish() {
  const header = ["respondent_id", "session", "date", ...bank.columns];
  const row = [$("respondent").value.trim(), $("session").value.trim(), bank.today,
               ...bank.columns.map(c => c in state.answers ? state.answers[c] : "")];
  const text = header.map(csvCell).join(",") + "\n" + row.map(csvCell).join(",") + "\n";
  $("ask").hidden = true;
  $("done").hidden = false;
  $("asked").textContent = state.order.length + " questions answered of " +
    bank.columns.length + " in the full form.";
  $("csv").value = text;
  const blob = new Blob([text], { type: "text/csv" });
  const link = $("download");
  link.href = URL.createObjectURL(blob);
  link.download = "answers-" + ($("respondent").value.trim() || "respondent") + ".csv";
  document.body.dataset.order = state.order.join(",");
}
$("begin").onclick = () => {
  if (!$("respondent").value.trim()) { $("who-error").hidden = false; return; }
  $("who").hidden = true; $("ask").hidden = false;
  startScale(); show();
};
$("next").onclick = answer;
"""


def _bank(calibration: Calibration, instrument: Instrument, rule: StopRule) -> dict[str, Any]:
    form = calibration.form
    perspective = instrument.form(form).perspective if form else "patient"
    scales = []
    for name, s in calibration.scales.items():
        items = []
        for p in s.items:
            item = instrument.item(p.item)
            scale = instrument.scale_of(item)
            if scale is None:
                raise ValueError(f"item {p.item!r} has no response scale to show.")
            items.append(
                {
                    "id": p.item,
                    "text": item.text or p.item,
                    "labels": [[code, label] for code, label in scale.points],
                    "reverse": p.reverse,
                    "low": p.scale_min,
                    "high": p.scale_max,
                    "codes": list(p.codes),
                    "a": p.a,
                    "d": list(p.d),
                }
            )
        shown = instrument.scale_of(instrument.item(s.items[0].item))
        prompt = prompt_for(shown, perspective) if shown is not None else ""
        scales.append({"name": name, "prompt": prompt, "items": items})
    columns = [i.id for i in instrument.select(form)]  # the whole form: check reads it
    return {
        "nodes": [float(x) for x in NODES],
        "weights": [float(w) for w in WEIGHTS],
        "stop": {"se": rule.se, "min": rule.min_items, "max": rule.max_items},
        "scales": scales,
        "columns": columns,
        "today": date.today().isoformat(),
    }


def adaptive_page(calibration: Calibration, instrument: Instrument, rule: StopRule) -> str:
    """The page, self-contained: no file or address outside it is read."""
    bank = json.dumps(_bank(calibration, instrument, rule), ensure_ascii=True)
    bank = bank.replace("</", "<\\/")  # nothing in the data can close the script element
    title = f"{instrument.name}: adaptive questionnaire"
    e = escape
    return "\n".join(
        [
            *page_start(title, _STYLE),
            '<section id="who">',
            "<p>Each part asks only the questions that tell the most about your answers so "
            "far, and stops as soon as it knows enough.</p>",
            '<label>Respondent id <input id="respondent" autocomplete="off"></label><br>',
            '<label>Session <input id="session" inputmode="numeric" size="4"></label><br>',
            '<p id="who-error" hidden role="alert">Enter the respondent id first.</p>',
            '<button id="begin" type="button">Begin</button>',
            "</section>",
            '<section id="ask" hidden>',
            '<p class="progress" id="progress"></p>',
            '<p class="prompt" id="prompt"></p>',
            '<fieldset><legend id="legend"></legend><div class="options" id="options"></div>'
            "</fieldset>",
            '<button id="next" type="button" disabled>Next</button>',
            "</section>",
            '<section id="done" hidden>',
            "<h2>Thank you</h2>",
            '<p id="asked"></p>',
            '<p><a id="download" href="#">Download the answers (CSV)</a>, the layout '
            "<code>alliance check</code> and <code>alliance score</code> read.</p>",
            '<textarea id="csv" readonly aria-label="The answers as CSV"></textarea>',
            "</section>",
            f'<p class="colophon">{e(instrument.name)} {e(instrument.version)}, calibrated '
            f"on {e(calibration.source)} ({e(calibration.calibrated_on)}); "
            f"{e(rule.text())}.</p>",
            "</main>",
            f'<script type="application/json" id="bank">{bank}</script>',
            f"<script>{CSV_CELL_SCRIPT}\n{_SCRIPT}</script>",
            "</body>",
            "</html>",
        ]
    )
