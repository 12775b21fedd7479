/*
 * A job's page: poll the job's progress document (JSON, same site) every second while
 * the job is queued or running, and move the progress bar, the row count and the
 * state without reloading. When the job finishes, show its download link or its
 * error and hide the buttons that only apply while it runs.
 */
(function () {
  "use strict";

  var box = document.getElementById("job");
  if (!box) {
    return;
  }
  var url = box.dataset.progressUrl;
  var finishedStates = { done: true, failed: true, cancelled: true };
  var delay = 1000;

  function number(value) {
    return Number(value).toLocaleString(document.documentElement.lang || undefined);
  }

  function show(job) {
    box.dataset.state = job.state;
    var state = document.getElementById("job-state");
    state.textContent = job.state_label;
    state.className = "badge job-badge job-" + job.state;
    var count = job.total !== null && job.total !== undefined
      ? consolePlural("jobs.rows_of", job.total, { done: number(job.done), total: number(job.total) })
      : consolePlural("jobs.rows", job.done, { done: number(job.done) });
    document.getElementById("job-count").textContent = count;
    var bar = document.getElementById("job-bar");
    var percent = job.percent;
    if (percent === null || percent === undefined) {
      percent = job.finished ? 100 : 0;
      document.getElementById("job-percent").textContent = "";
    } else {
      document.getElementById("job-percent").textContent = percent + "%";
    }
    bar.style.width = percent + "%";
    bar.setAttribute("aria-valuenow", String(percent));
    if (job.finished) {
      bar.classList.remove("progress-bar-striped", "progress-bar-animated");
      if (job.state === "failed") {
        bar.classList.add("bg-danger");
      } else if (job.state === "cancelled") {
        bar.classList.add("bg-secondary");
      }
      var controls = document.getElementById("job-controls");
      if (controls) {
        controls.classList.add("d-none");
      }
    }
    if (job.error) {
      var error = document.getElementById("job-error");
      error.textContent = job.error;
      error.classList.remove("d-none");
    }
    if (job.download_url) {
      document.getElementById("job-download-link").setAttribute("href", job.download_url);
      document.getElementById("job-download").classList.remove("d-none");
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status)); // read by nobody: polled again
        }
        return response.json();
      })
      .then(function (job) {
        show(job);
        if (!job.finished) {
          window.setTimeout(poll, delay);
        }
      })
      .catch(function () {
        // A network hiccup or a restart: try again, a little less often.
        delay = Math.min(delay * 2, 10000);
        window.setTimeout(poll, delay);
      });
  }

  if (!finishedStates[box.dataset.state]) {
    window.setTimeout(poll, delay);
  }
})();
