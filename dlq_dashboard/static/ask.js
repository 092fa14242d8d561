// The Ask page: upload a file, ask, stream the answer, open its citations. No inline script
// (the Content-Security-Policy forbids it). The answer streams through an EventSource, which
// reconnects by itself after a dropped connection and sends Last-Event-ID: the server sends
// only what follows, and a 204 once everything was seen.
(function () {
  "use strict";

  var form = document.getElementById("ask-form");
  if (!form) return;
  var csrf = form.getAttribute("data-csrf");
  var answer = document.getElementById("answer");
  var answerText = document.getElementById("answer-text");
  var sourceList = document.getElementById("answer-sources");
  var status = document.getElementById("ask-status");
  var sources = [];
  var text = "";
  var stream = null;

  function where(source) {
    var parts = [source.file || (source.source + ": " + source.doc_id)];
    if (source.page) parts.push("page " + source.page);
    return parts.join(", ");
  }

  function openChunk(n) {
    var source = sources.filter(function (s) { return s.n === n; })[0];
    if (!source) return;
    document.getElementById("chunk-title").textContent = "[" + n + "] " + where(source);
    document.getElementById("chunk-where").textContent =
      source.source + " · " + source.doc_id + " · chunk " + source.chunk_index;
    document.getElementById("chunk-text").textContent = source.text;
    document.getElementById("chunk-dialog").showModal();
  }

  function citationButton(n) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "citation link";
    button.setAttribute("data-cite", String(n));
    button.textContent = "[" + n + "]";
    return button;
  }

  // The answer as text nodes, with each [n] that names a source as a button.
  function renderAnswer() {
    answerText.textContent = "";
    var pattern = /\[(\d+)\]/g;
    var last = 0;
    var match;
    while ((match = pattern.exec(text)) !== null) {
      var n = parseInt(match[1], 10);
      if (!sources.some(function (s) { return s.n === n; })) continue;
      answerText.appendChild(document.createTextNode(text.slice(last, match.index)));
      answerText.appendChild(citationButton(n));
      last = match.index + match[0].length;
    }
    answerText.appendChild(document.createTextNode(text.slice(last)));
  }

  function renderSources() {
    sourceList.textContent = "";
    sources.forEach(function (source) {
      var item = document.createElement("li");
      item.value = source.n;
      var button = citationButton(source.n);
      button.textContent = where(source);
      item.appendChild(button);
      sourceList.appendChild(item);
    });
  }

  function finish(message) {
    if (stream) stream.close();
    stream = null;
    status.textContent = message;
    document.getElementById("ask-submit").disabled = false;
  }

  function listen(jobId) {
    text = "";
    sources = [];
    answer.hidden = false;
    answer.setAttribute("data-job", jobId);
    answer.setAttribute("data-state", "streaming");
    stream = new EventSource("/ask/jobs/" + encodeURIComponent(jobId) + "/stream");
    stream.addEventListener("sources", function (event) {
      sources = JSON.parse(event.data).sources || [];
      renderSources();
    });
    stream.addEventListener("token", function (event) {
      text += JSON.parse(event.data).text;
      renderAnswer();
    });
    stream.addEventListener("reset", function () {
      text = "";
      renderAnswer();
      status.textContent = "The model is retrying; the answer restarts.";
    });
    stream.addEventListener("done", function (event) {
      var data = JSON.parse(event.data);
      if (data.answer && !text) text = data.answer;
      if (data.sources && !sources.length) { sources = data.sources; renderSources(); }
      renderAnswer();
      answer.setAttribute("data-state", "done");
      finish("Done.");
    });
    stream.addEventListener("error", function (event) {
      if (event.data) {
        var data = JSON.parse(event.data);
        answer.setAttribute("data-state", "failed");
        finish("No answer: " + (data.error || data.reason || "the job failed"));
      } else {
        // A dropped connection: the EventSource comes back by itself with Last-Event-ID.
        status.textContent = "Connection lost; reconnecting…";
      }
    });
    stream.addEventListener("open", function () {
      if (answer.getAttribute("data-state") === "streaming") status.textContent = "Writing…";
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (stream) stream.close();
    document.getElementById("ask-submit").disabled = true;
    status.textContent = "Asking…";
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf },
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.detail || ("HTTP " + response.status));
        listen(body.job_id);
      });
    }).catch(function (error) { finish("Could not ask: " + error.message); });
  });

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-cite]") : null;
    if (target) openChunk(parseInt(target.getAttribute("data-cite"), 10));
  });

  // ---- upload: store the file, wait until it is indexed, then ask of it alone ----
  var upload = document.getElementById("upload-form");
  var uploadStatus = document.getElementById("upload-status");

  function waitIndexed(documentId, source, name, deadline) {
    fetch("/ask/documents/" + encodeURIComponent(documentId), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (state) {
        if (state.error) { uploadStatus.textContent = name + ": " + state.error; return; }
        if (state.indexed) {
          document.getElementById("ask-source").value = source;
          uploadStatus.textContent = name + " is ready (" + state.chunks + " chunks): ask away.";
          upload.setAttribute("data-ready", source);
          return;
        }
        if (Date.now() > deadline) { uploadStatus.textContent = name + " is still being read…"; return; }
        window.setTimeout(function () { waitIndexed(documentId, source, name, deadline); }, 700);
      });
  }

  upload.addEventListener("submit", function (event) {
    event.preventDefault();
    var input = document.getElementById("ask-file");
    if (!input.files.length) return;
    uploadStatus.textContent = "Uploading " + input.files[0].name + "…";
    fetch(upload.action, {
      method: "POST", body: new FormData(upload), credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf },
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.detail || ("HTTP " + response.status));
        uploadStatus.textContent = "Reading " + body.filename + "…";
        waitIndexed(body.document_id, body.source, body.filename, Date.now() + 300000);
      });
    }).catch(function (error) { uploadStatus.textContent = "Refused: " + error.message; });
  });
})();
