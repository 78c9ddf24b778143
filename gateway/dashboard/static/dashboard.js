// The dashboard's little JavaScript (no framework, nothing from the internet).
// Pages work without it; it adds: a question before a form that sends, cancels or
// erases; the composer's live counter and recipient count; a progress bar that
// moves; the phone simulator; and, on a phone, the menu button.
"use strict";

(function () {
  const lang = document.documentElement.lang || "lo";
  document.documentElement.classList.add("js");
  // A list's columns named on each cell: on a phone its rows become labelled blocks.
  document.querySelectorAll("table.list").forEach((table) => {
    const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    table.querySelectorAll("tbody tr").forEach((row) => {
      [...row.children].forEach((cell, n) => {
        if (!cell.dataset.label && names[n] && cell.colSpan === 1) cell.dataset.label = names[n];
      });
    });
  });
  const menu = document.querySelector("[data-menu]");
  if (menu) {
    menu.addEventListener("click", () => {
      const open = menu.closest(".bar").classList.toggle("open");
      menu.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }
  const number = new Intl.NumberFormat(lang === "lo" ? "lo-LA" : "en-GB");
  const fill = (template, values) => template.replace(/%\((\w+)\)s/g, (_, key) => values[key]);

  // -- "Are you sure?" before sending, cancelling, erasing
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  // -- SMS size, by the server's rules (gateway/encoding.py): the alphabet comes
  // from the server, so the two count alike; a test types into this page to check.
  function smsSize(raw, alphabet) {
    const text = raw.replace(/\r\n/g, "\n").trim().replace(/\u0ECD([\u0EC8-\u0ECB]?)\u0EB2/g, "$1\u0EB3");
    let gsm = true;
    let septets = 0;
    for (const ch of text) {
      if (alphabet.extended.includes(ch)) septets += 2;
      else if (alphabet.basic.includes(ch)) septets += 1;
      else { gsm = false; break; }
    }
    const length = gsm ? septets : text.length; // UCS-2 counts UTF-16 units, as JS strings do
    const [single, part] = gsm ? [160, 153] : [70, 67];
    const segments = length <= single ? (length ? 1 : 0) : Math.ceil(length / part);
    return { encoding: gsm ? "GSM-7" : "UCS-2", length: length, segments: segments };
  }
  window.outreachSmsSize = smsSize; // for the browser test

  const composer = document.querySelector("[data-composer]");
  const sizes = {};
  let counts = null;
  if (composer) {
    const alphabet = JSON.parse(composer.dataset.alphabet);
    const price = parseFloat(composer.dataset.price);
    const currency = composer.dataset.currency;
    composer.querySelectorAll("textarea[data-counted]").forEach((area) => {
      const code = area.dataset.counted;
      const out = composer.querySelector(`[data-counter="${code}"]`);
      const words = JSON.parse(out.dataset.words);
      const update = () => {
        const size = smsSize(area.value, alphabet);
        sizes[code] = size;
        out.dataset.encoding = size.encoding;
        out.dataset.segments = size.segments;
        out.textContent = size.length === 0 ? "" : [
          words[size.encoding] || size.encoding,
          fill(words.chars, { n: number.format(size.length) }),
          fill(words.segments, { n: number.format(size.segments) }),
          fill(words.cost, { cost: `${(size.segments * price).toFixed(3)} ${currency}` }),
        ].join(" · ");
        estimate();
      };
      area.addEventListener("input", update);
      update();
    });
    function estimate() {
      const out = composer.querySelector("[data-estimate]");
      if (!out || !counts) return;
      // Each member gets her language's text, or the other one when hers is empty.
      let segments = 0;
      for (const [code, count] of Object.entries(counts.by_language)) {
        const own = sizes[code] && sizes[code].segments ? sizes[code] : null;
        const other = Object.values(sizes).find((s) => s.segments);
        segments += count * ((own || other || { segments: 0 }).segments);
      }
      out.textContent = segments ? `${counts.text} · ${number.format(segments)} SMS · ≈ ${(segments * price).toFixed(2)} ${currency}` : counts.text;
    }
    composer.estimate = estimate;
  }

  // -- Live recipient count for the audience builder
  document.querySelectorAll("fieldset.audience").forEach((fieldset) => {
    const out = fieldset.querySelector("[data-recipients]");
    let timer = null;
    const refresh = () => {
      const params = new URLSearchParams();
      fieldset.querySelectorAll("input:checked, select").forEach((el) => { if (el.value) params.append(el.name, el.value); });
      fetch(`${fieldset.dataset.countUrl}?${params}`, { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
        .then((data) => {
          counts = data;
          out.textContent = data.text;
          out.dataset.total = data.total;
          if (composer && composer.estimate) composer.estimate();
        })
        .catch(() => { out.textContent = "?"; });
    };
    fieldset.addEventListener("change", () => { clearTimeout(timer); timer = setTimeout(refresh, 200); });
    refresh();
  });

  // -- A broadcast's progress, without reloading the page
  const progress = document.querySelector("[data-progress-url]");
  if (progress) {
    const words = JSON.parse(progress.dataset.words);
    const bar = progress.querySelector("[data-bar]");
    const state = progress.querySelector("[data-state]");
    const tick = () => {
      fetch(progress.dataset.progressUrl, { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
        .then((data) => {
          bar.value = data.percent;
          bar.textContent = `${data.percent}%`;
          for (const key of ["sent", "delivered", "failed", "remaining", "total"]) {
            const field = progress.querySelector(`[data-field="${key}"]`);
            if (field) field.textContent = number.format(data[key]);
          }
          if (data.finished) {
            state.textContent = data.status === "cancelled" ? words.cancelled : words.done;
            progress.dataset.finished = "true";
            const cancel = progress.querySelector("[data-cancel]");
            if (cancel) cancel.hidden = true;
            return;
          }
          if (data.waiting_until) state.textContent = fill(words.waiting, { when: new Date(data.waiting_until).toLocaleString(lang) });
          else if (data.eta_seconds) state.textContent = fill(words.eta, { minutes: number.format(Math.max(1, Math.round(data.eta_seconds / 60))) });
          setTimeout(tick, 1500);
        })
        .catch(() => setTimeout(tick, 5000));
    };
    tick();
  }

  // -- The phone simulator
  const simulator = document.querySelector("[data-simulator]");
  if (simulator) {
    const words = JSON.parse(simulator.dataset.words);
    const post = (url, fields) => {
      const body = new URLSearchParams(Object.assign({ csrf: simulator.dataset.csrf }, fields));
      return fetch(url, { method: "POST", body: body, credentials: "same-origin", redirect: "manual" })
        .then((r) => {
          if (r.type === "opaqueredirect" || r.status === 401 || r.status === 302) { window.location.reload(); return Promise.reject(); }
          return r.json();
        });
    };
    // USSD: the network sends everything typed in this dial, joined with "*".
    const screen = simulator.querySelector("[data-ussd-screen]");
    const meta = simulator.querySelector("[data-ussd-meta]");
    let session = null;
    let typed = [];
    let hops = 0;
    const show = (data) => {
      session = data.ended ? null : data.session;
      hops += 1;
      screen.textContent = data.screen + (data.ended ? `\n\n— ${words.ended}` : "");
      meta.textContent = fill(words.meta, { hop: number.format(hops), chars: number.format(data.screen.length) });
    };
    const dial = () => {
      typed = []; hops = 0;
      post(simulator.dataset.ussdUrl, { session: "", text: "" }).then(show);
    };
    simulator.querySelector("[data-dial]").addEventListener("click", dial);
    simulator.querySelector("[data-ussd-form]").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = event.target.elements.input;
      if (!session) { dial(); input.value = ""; return; }
      typed.push(input.value);
      input.value = "";
      post(simulator.dataset.ussdUrl, { session: session, text: typed.join("*") }).then(show);
    });
    // A call: what she hears, in words, a step at a time (a piece not recorded yet is marked).
    const transcript = simulator.querySelector("[data-call-transcript]");
    let call = null;
    let recording = false;
    const said = (data) => {
      call = data.ended ? null : data.call;
      recording = data.record;
      // One step, one bubble: the pieces as she hears them, one after the other.
      const unrecorded = data.lines.filter((line) => !line.recorded).length;
      const item = document.createElement("p");
      item.className = "theirs";
      item.textContent = data.lines.map((line) => line.text).join(" ")
        + (unrecorded ? ` (${words.unrecorded}: ${unrecorded}/${data.lines.length})` : "");
      transcript.appendChild(item);
      if (data.ended) {
        const item = document.createElement("p");
        item.className = "theirs";
        item.textContent = `— ${words.call_ended}`;
        transcript.appendChild(item);
      }
      transcript.scrollTop = transcript.scrollHeight;
    };
    const ring = () => { transcript.textContent = ""; post(simulator.dataset.callUrl, { call: "" }).then(said); };
    simulator.querySelector("[data-ring]").addEventListener("click", ring);
    simulator.querySelector("[data-call-form]").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = event.target.elements.input;
      if (!call) { ring(); input.value = ""; return; }
      const item = document.createElement("p");
      item.className = "mine";
      item.textContent = input.value || "…";
      transcript.appendChild(item);
      post(simulator.dataset.callUrl, { call: call, keys: input.value, record: recording ? "1" : "" }).then(said);
      input.value = "";
    });
    // SMS: what she texts, then the replies the gateway wrote for her.
    const thread = simulator.querySelector("[data-sms-thread]");
    const bubble = (text, mine) => {
      const item = document.createElement("p");
      item.className = mine ? "mine" : "theirs";
      item.textContent = text;
      thread.appendChild(item);
      thread.scrollTop = thread.scrollHeight;
    };
    simulator.querySelector("[data-sms-form]").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = event.target.elements.input;
      if (!input.value.trim()) return;
      bubble(input.value, true);
      post(simulator.dataset.smsUrl, { text: input.value }).then((data) => {
        data.replies.forEach((reply) => bubble(reply.text, false));
        if (!data.replies.length) {
          // A reply may be written a moment later: ask once more.
          setTimeout(() => fetch(`${simulator.dataset.smsUrl}?after=${data.after}`, { credentials: "same-origin" })
            .then((r) => r.json()).then((later) => {
              later.replies.forEach((reply) => bubble(reply.text, false));
              if (!later.replies.length) bubble(words.none, false);
            }), 1500);
        }
      });
      input.value = "";
    });
  }
})();

// -- The prompt studio: record in the browser (MediaRecorder) or upload a file; the
// server converts it and answers with the new recording's URL.
(function () {
  const table = document.querySelector("[data-studio]");
  if (!table) return;
  const words = JSON.parse(table.dataset.words);
  const fill = (template, values) => template.replace(/%\((\w+)\)s/g, (_, key) => values[key]);
  const send = (form, blob, name) => {
    const state = form.querySelector("[data-state]");
    const body = new FormData();
    body.append("csrf", table.dataset.csrf);
    body.append("audio", blob, name);
    state.textContent = words.saving;
    return fetch(form.action, { method: "POST", body: body, credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => r.json().catch(() => ({ ok: false, error: r.statusText })))
      .then((data) => {
        if (!data.ok) { state.textContent = data.error; state.classList.add("error"); return; }
        state.classList.remove("error");
        state.textContent = fill(words.saved, { seconds: data.seconds });
        const row = form.closest("tr");
        const audio = row.querySelector("audio");
        audio.hidden = false;
        audio.src = `${data.url}?v=${Date.now()}`;
        const tag = row.querySelector(".tag");
        tag.className = "tag recorded";
        tag.textContent = words.recorded;
      });
  };
  table.querySelectorAll("[data-upload]").forEach((input) => {
    input.addEventListener("change", () => { if (input.files[0]) send(input.form, input.files[0], input.files[0].name); });
  });
  table.dataset.ready = "upload";  // a file chosen before this line would go unseen: tests wait for it
  let recorder = null;
  if (!window.isSecureContext) {
    // Browsers give the microphone only to https pages and the server's own address:
    // say so once, and leave upload and recording by phone.
    const notice = document.querySelector("[data-insecure]");
    if (notice) notice.hidden = false;
    table.querySelectorAll("[data-record]").forEach((button) => { button.disabled = true; });
  }
  table.querySelectorAll("[data-record]").forEach((button) => {
    button.addEventListener("click", () => {
      const form = button.form;
      if (recorder && recorder.button === button) { recorder.stop(); return; }
      if (recorder) recorder.stop();
      if (!navigator.mediaDevices || !window.MediaRecorder) { form.querySelector("[data-state]").textContent = words.denied; return; }
      navigator.mediaDevices.getUserMedia({ audio: true }).then((stream) => {
        const chunks = [];
        const current = new MediaRecorder(stream);
        current.button = button;
        current.ondataavailable = (event) => chunks.push(event.data);
        current.onstop = () => {
          stream.getTracks().forEach((track) => track.stop());
          button.textContent = words.record;
          button.classList.remove("danger");
          recorder = null;
          send(form, new Blob(chunks, { type: current.mimeType || "audio/webm" }), "blob");
        };
        recorder = current;
        current.start();
        button.textContent = words.stop;
        button.classList.add("danger");
      }).catch(() => { form.querySelector("[data-state]").textContent = words.denied; });
    });
  });
})();

// The wording editor: as she types, the server measures the text on every screen
// that shows it (USSD pages, options on page 1, SMS parts, glossary words) with the
// same code the publish checks run, and the counter under the box says so.
(function () {
  const form = document.querySelector("form[data-measure-url]");
  if (!form) return;
  form.querySelectorAll("textarea[data-measure]").forEach((area) => {
    const lang = area.dataset.measure;
    const out = form.querySelector(`[data-measured="${lang}"]`);
    let timer = null;
    function refresh() {
      const body = new URLSearchParams({csrf: form.dataset.csrf, key: form.dataset.key, lang: lang, text: area.value});
      fetch(form.dataset.measureUrl, {method: "POST", body: body, credentials: "same-origin"})
        .then((response) => response.ok ? response.json() : null)
        .then((data) => {
          if (!data) return;
          out.textContent = "";
          data.lines.forEach((entry, n) => {
            if (n) out.appendChild(document.createElement("br"));
            const span = document.createElement("span");
            span.textContent = entry.text;
            if (entry.bad) span.className = "error";
            out.appendChild(span);
          });
        })
        .catch(() => {});
    }
    area.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 250); });
  });
})();
