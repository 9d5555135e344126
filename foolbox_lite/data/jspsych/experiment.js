/* foolbox-lite cue-conflict experiment (jsPsych 8, runs offline from this folder).
 *
 * Reads window.FL_CONFIG (config.js, written by `foolbox-lite export --format jspsych`).
 * Trial: fixation -> stimulus (stimulus_ms) -> 1/f noise mask (mask_ms) -> forced choice.
 * The order is shuffled per participant with mulberry32 seeded by FNV-1a of
 * "<seed>:<participant>" (foolbox_lite.stimulus_set.export.jspsych.trial_order gives the same order).
 * At the end the trials are downloaded as a CSV in model-vs-human's raw-data columns.
 */
(function () {
  "use strict";
  const C = window.FL_CONFIG;

  function fnv1a(text) {
    let h = 0x811c9dc5;
    for (const b of new TextEncoder().encode(text)) {
      h ^= b;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h >>> 0;
  }
  function mulberry32(a) {
    return function () {
      a |= 0; a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  function shuffled(n, seedText) {
    const rng = mulberry32(fnv1a(seedText)), idx = [...Array(n).keys()];
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    return idx;
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }
  function csvCell(v) {
    const s = String(v);
    return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  const params = new URLSearchParams(window.location.search);
  const rows = [];
  let participant = params.get("participant") || "";
  const session = parseInt(params.get("session") || "1", 10) || 1;
  const jsPsych = jsPsychModule.initJsPsych({ display_element: "jspsych-target" });
  const useKeys = C.labels.length <= C.keys.length;

  function choiceScreen() {
    if (useKeys) {
      const cells = C.labels.map((l, i) =>
        `<div class="fl-choice"><kbd>${esc(C.keys[i].toUpperCase())}</kbd> ${esc(C.names[i])}</div>`).join("");
      return `<p>${esc(C.text.question)}</p><div class="fl-grid">${cells}</div>`;
    }
    const opts = C.names.map((n) => `<option value="${esc(n)}">`).join("");
    return `<p>${esc(C.text.question)}</p><input name="answer" list="fl-labels" autocomplete="off" required autofocus><datalist id="fl-labels">${opts}</datalist>`;
  }
  const nameToLabel = Object.fromEntries(C.names.map((n, i) => [n, C.labels[i]]));

  let shown = 0;
  function procedure(practice) {
    const tv = (name) => jsPsych.evaluateTimelineVariable(name);
    const fix = { type: jsPsychHtmlKeyboardResponse, stimulus: '<div class="fl-fix">+</div>', choices: "NO_KEYS", trial_duration: C.fixation_ms };
    const stim = { type: jsPsychImageKeyboardResponse, stimulus: () => C.items[tv("i")].src, choices: "NO_KEYS", trial_duration: C.stimulus_ms, stimulus_height: C.size };
    const mask = { type: jsPsychImageKeyboardResponse, stimulus: () => C.masks[shown % C.masks.length], choices: "NO_KEYS", trial_duration: C.mask_ms, stimulus_height: C.size };
    const record = (label, rtMs) => {
      shown += 1;
      if (practice) return;
      const item = C.items[tv("i")];
      rows.push([participant, session, rows.length + 1, (rtMs / 1000).toFixed(3), label, item.category, item.condition, item.imagename]);
    };
    const choice = useKeys
      ? { type: jsPsychHtmlKeyboardResponse, stimulus: choiceScreen(), choices: C.keys.slice(0, C.labels.length),
          on_finish: (d) => record(C.labels[C.keys.indexOf(String(d.response).toLowerCase())], d.rt) }
      : { type: jsPsychSurveyHtmlForm, html: choiceScreen(), on_finish: (d) => record(nameToLabel[d.response.answer] || "na", d.rt) };
    const pause = {
      timeline: [{ type: jsPsychHtmlKeyboardResponse, choices: [" "],
        stimulus: () => `<p>${esc(C.text.break)} (${rows.length} / ${C.items.length})</p><p>${esc(C.text.continue)}</p>` }],
      conditional_function: () => !practice && rows.length > 0 && C.break_every > 0 && rows.length % C.break_every === 0,
    };
    const order = (idx) => {
      const o = shuffled(idx.length, `${C.seed}:${participant}`);
      return practice ? o.slice(0, C.practice) : o;
    };
    return { timeline: [pause, fix, stim, mask, choice], timeline_variables: C.items.map((_, i) => ({ i })), sample: { type: "custom", fn: order } };
  }

  function download() {
    const header = ["subj", "session", "trial", "rt", "object_response", "category", "condition", "imagename"];
    const text = [header, ...rows].map((r) => r.map(csvCell).join(",")).join("\n") + "\n";
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
    a.download = `study-${C.study}_subject-${participant}_session-${session}_data.csv`;
    document.body.appendChild(a);
    a.click();
    return a.download;
  }

  const timeline = [];
  if (!participant) {
    timeline.push({ type: jsPsychSurveyHtmlForm, preamble: `<p>${esc(C.text.participant)}</p>`,
      html: '<input name="participant" required pattern="[A-Za-z0-9-]+" autofocus>',
      on_finish: (d) => { participant = d.response.participant; } });
  }
  for (const page of C.text.instructions) {
    timeline.push({ type: jsPsychHtmlKeyboardResponse, stimulus: `<div class="fl-text">${page}</div><p>${esc(C.text.continue)}</p>`, choices: [" "] });
  }
  // Practice and main trials depend on the participant, so they are built when the participant is known.
  if (C.practice > 0) {
    timeline.push({ type: jsPsychHtmlKeyboardResponse, stimulus: `<p>${esc(C.text.practice)}</p><p>${esc(C.text.continue)}</p>`, choices: [" "] });
    timeline.push(procedure(true));
  }
  timeline.push({ type: jsPsychHtmlKeyboardResponse, stimulus: `<p>${esc(C.text.main)}</p><p>${esc(C.text.continue)}</p>`, choices: [" "] });
  timeline.push(procedure(false));
  timeline.push({ type: jsPsychHtmlKeyboardResponse, stimulus: () => `<p>${esc(C.text.done)}</p><p><code>${esc(download())}</code></p>`, choices: "NO_KEYS" });
  jsPsych.pluginAPI.preloadImages(C.items.map((x) => x.src).concat(C.masks), () => jsPsych.run(timeline));
  window.FL_ROWS = rows;
  window.FL_JSPSYCH = jsPsych;  // for inspecting timing: FL_JSPSYCH.data.get()
})();
