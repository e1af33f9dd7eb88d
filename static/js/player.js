/* The chapter player (rules R7): hls.js playback, server-judged heartbeats, no seeking past the
 * watched frontier, 1x only, pause when hidden, attention checks, one stream per account, a
 * moving watermark. No framework; the server is the judge of every second credited. */
(function () {
  "use strict";
  var root = document.getElementById("player");
  if (!root) return;
  var cfg = root.dataset;
  var video = document.getElementById("video");
  var box = document.getElementById("player-box");
  var statusEl = document.getElementById("status");
  var dialog = document.getElementById("attention");
  var HEARTBEAT = Math.max(1, parseFloat(cfg.heartbeat) || 30) * 1000;
  var TOL = parseFloat(cfg.tolerance) || 5;
  var ANSWER = (parseFloat(cfg.answerWindow) || 60) * 1000;

  /* frontier: the furthest point watched, as the server last said or as played here since
   * (what was played continuously is reported before any seek, so the server agrees). */
  var session = null, hls = null, seq = 0, stretchStart = 0, frontier = 0, lastTime = 0;
  var heldUntil = 0;  // a warning stays readable this long before the routine status replaces it
  var stopped = false, completed = cfg.completed === "1", queue = Promise.resolve();
  var checkToken = "", checkTimer = null, courseDone = parseInt(cfg.courseDone, 10) || 0;
  var yearDone = document.getElementById("year-done");

  /* A report that gets no answer (network error) or a 502/503/504 (a node restarting, the
   * timing service's Redis away for seconds) is not a refusal: playback goes on, the stretch
   * stays unacknowledged (stretchStart moves only when the server answers), and the next report
   * claims it again from the last acknowledged point; the server credits that longer claim
   * against the wall time since its last accepted report, and never twice what it had already
   * judged (decision 0003). Asked again with back-off, never sooner than Retry-After. After
   * RETRY_FOR without an answer the player stops with the refusal's message: 2 minutes outlast a
   * Redis restart, a node's restart or a graceful one (30 s) with room to spare, and bound what a
   * learner watches without it being recorded if the service does not come back. */
  var RETRY_FOR = 2 * 60 * 1000;
  var TROUBLE = "学习计时暂时中断，视频可继续播放；服务恢复后将自动补记这段学习时间。";
  var troubleSince = 0, tries = 0, retryTimer = null;
  var stretchGen = 0;        // a seek or a confirmed check starts a new stretch
  var pendingClose = null;   // a stretch closed by a seek whose report got no answer

  function say(text, isError) {
    statusEl.textContent = text;
    statusEl.className = "player-status" + (isError ? " error" : "");
  }

  function warn(text) {
    say(text, true);
    heldUntil = Date.now() + 6000;
  }

  function clock(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    return Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2);
  }

  /* The routine status line: what the player is doing now (never 学习中 while paused or done).
   * A report's answer leaves a recent warning readable; the learner's own pause or play does not. */
  function sayState(byLearner) {
    if (byLearner) heldUntil = 0;
    if (stopped || Date.now() < heldUntil) return;
    if (troubleSince) return say(TROUBLE, true);
    if (video.ended) say(completed ? "本章节已播放完毕，已完成学习。" : "本章节已播放完毕。");
    else if (video.paused) say(completed ? "已暂停（本章节已完成）。" : "已暂停，点击播放继续学习。");
    else say("学习中（系统每 " + HEARTBEAT / 1000 + " 秒记录一次进度）");
  }

  /* Start: the session cookie + CSRF token. Then the play session's own token (X-Play-Token),
   * which the server checks without loading the sign-in session (the heartbeat's fast path). */
  function headers() {
    var h = {"Content-Type": "application/json", "X-CSRFToken": cfg.csrf};
    if (session && session.token) h["X-Play-Token"] = session.token;
    return h;
  }

  /* Resolves {status, data, retryAfter}; status 0 when no answer came (network error). */
  function post(url, body, keepalive) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", keepalive: !!keepalive,
      headers: headers(),
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        return {status: r.status, data: data, retryAfter: r.headers.get("Retry-After")};
      });
    }, function () { return {status: 0, data: {}}; });
  }

  function transient(res) {
    return res.status === 0 || res.status === 502 || res.status === 503 || res.status === 504;
  }

  /* Back-off from 2 s doubling up to the heartbeat interval, spread so that players do not all
   * come back at once; never sooner than the server's Retry-After (seconds). */
  function retryDelay(res, n) {
    var backoff = Math.min(HEARTBEAT, 2000 * Math.pow(2, n)) * (0.75 + Math.random() * 0.5);
    return Math.max((parseFloat(res.retryAfter) || 0) * 1000, backoff);
  }

  /* send() again while its answer is transient, until RETRY_FOR has passed; then done(res). */
  function persist(send, done, waiting) {
    var since = 0, n = 0;
    (function attempt() {
      send().then(function (res) {
        if (stopped) return;
        if (!transient(res)) return done(res);
        since = since || Date.now();
        if (Date.now() - since >= RETRY_FOR) return done(res);
        waiting();
        setTimeout(attempt, retryDelay(res, n++));
      });
    })();
  }

  function stop(message) {
    stopped = true;
    video.pause();
    if (hls) hls.stopLoad();
    say(message, true);
  }

  function refused(res) {
    if (res.status === 401) return stop("登录已失效或账号已在其他地方登录，请重新登录。");
    if (res.status === 0) return stop("网络连接已中断，请检查网络后刷新页面重试。");
    var d = res.data || {};
    stop(d.message || "暂不能继续学习，请刷新页面。");
  }

  function showProgress(d) {
    frontier = Math.max(frontier, d.frontier || 0);
    document.getElementById("watched").textContent = Math.floor((d.watched_share || 0) * 100) + "%";
    if (d.completed && !completed) {
      completed = true;
      courseDone += 1;
      document.getElementById("course-done").textContent = courseDone;
      if (yearDone) yearDone.textContent = (parseInt(yearDone.textContent, 10) || 0) + 1;
    }
    if (d.completed) {
      document.getElementById("chapter-state").innerHTML = '<span class="mark-done">✓ 本章节已完成</span>';
    }
  }

  function answered(d) {
    troubleSince = 0;
    tries = 0;
    showProgress(d);
    if (d.attention && d.attention.token !== checkToken) askAttention(d.attention);
    if (d.reason === "check_overdue") say("防挂机确认已超时，计时已暂停，请点击“我在学习”。", true);
    else sayState();
  }

  /* A report got no answer or a 502/503/504: keep playing and claim again later (false), or,
   * past RETRY_FOR, stop with the refusal's message. */
  function failed(res) {
    troubleSince = troubleSince || Date.now();
    if (Date.now() - troubleSince >= RETRY_FOR) return refused(res);
    heldUntil = 0;
    say(TROUBLE, true);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(function () { retryTimer = null; beat(); }, retryDelay(res, tries++));
  }

  /* One report of the stretch [start, position]; its sequence number is taken when it leaves. */
  function send(claim, keepalive) {
    var url = "/api/learning/sessions/" + session.session + "/heartbeat";
    return post(url, {seq: ++seq, start: claim.start, position: claim.position}, keepalive);
  }

  /* One report: the stretch of continuous playback from the last acknowledged point
   * (stretchStart) to `position`, or, for a seek, the stretch it closes (`closing`). Reports are
   * sent one after another so their sequence numbers arrive in order; the claim is made when the
   * report leaves, so it starts where the previous answer left the stretch. */
  function beat(position, keepalive, closing) {
    if (!session || stopped) return queue;
    var pos = position === undefined ? video.currentTime : position;
    var gen = stretchGen;
    queue = queue.then(function () {
      if (stopped) return;
      if (!closing && gen !== stretchGen) return;  // its stretch was closed by a seek, and reported then
      var before = pendingClose && !closing ? send(pendingClose) : null;
      return Promise.resolve(before).then(function (res) {
        if (res) {
          if (res.status !== 200) return transient(res) ? failed(res) : refused(res);
          pendingClose = null;
        }
        var claim = closing || {start: stretchStart, position: pos};
        return send(claim, keepalive).then(function (res) {
          if (stopped) return;
          if (res.status !== 200) {
            if (!transient(res)) return refused(res);
            if (closing) pendingClose = closing;
            return failed(res);
          }
          if (!closing && gen === stretchGen) stretchStart = claim.position;
          answered(res.data);
        });
      });
    });
    return queue;
  }

  function askAttention(att) {
    checkToken = att.token;
    if (!dialog.open) { if (dialog.showModal) dialog.showModal(); else dialog.setAttribute("open", ""); }
    clearTimeout(checkTimer);
    checkTimer = setTimeout(function () {
      if (!checkToken) return;
      video.pause();
      document.getElementById("attention-hint").textContent = "已超时，计时已暂停。确认后继续学习。";
    }, Math.max(0, att.seconds_left * 1000));
  }

  document.getElementById("attention-ok").addEventListener("click", function () {
    if (!session || !checkToken) { dialog.close(); return; }
    var token = checkToken;
    var url = "/api/learning/sessions/" + session.session + "/attention";
    persist(function () { return post(url, {token: token}); }, function (res) {
      // no_check: nothing to confirm (an earlier try whose answer was lost did confirm it).
      if (res.status !== 200 && (res.data || {}).code !== "no_check") return refused(res);
      checkToken = "";
      clearTimeout(checkTimer);
      dialog.close();
      // Anything played while the check was overdue earned nothing: go back to the frontier.
      if (video.currentTime > frontier + TOL) video.currentTime = frontier;
      stretchStart = video.currentTime;
      stretchGen += 1;
      say("已确认，继续学习。");
    }, function () {
      document.getElementById("attention-hint").textContent = "网络不稳定，正在重新提交确认…";
    });
  });

  // --- no seeking past the frontier, 1x only, pause when hidden --------------------------------
  /* Anything up to the furthest point watched may be replayed; past it the player goes back to
   * where it was and says why. */
  video.addEventListener("timeupdate", function () {
    if (video.seeking) return;
    lastTime = video.currentTime;
    if (!video.paused && !returning) frontier = Math.max(frontier, lastTime);
  });
  var returning = false;
  video.addEventListener("seeking", function () {
    var target = video.currentTime;
    if (returning) { returning = false; return; }
    if (target > frontier + 1) {
      returning = true;
      video.currentTime = lastTime;
      warn("只能拖动到已观看过的位置（最远已观看到 " + clock(frontier) + "），已返回原位置。");
      return;
    }
    if (Math.abs(target - lastTime) > 0.5) {
      // report what was played before the seek
      if (lastTime > stretchStart) beat(lastTime, false, {start: stretchStart, position: lastTime});
      stretchStart = target;
      stretchGen += 1;
      lastTime = target;
    }
  });
  video.addEventListener("contextmenu", function (e) { e.preventDefault(); });  // no "save video as"
  video.addEventListener("ratechange", function () {
    if (video.playbackRate !== 1) video.playbackRate = 1;
  });
  document.addEventListener("visibilitychange", function () {
    if (document.hidden && !video.paused) video.pause();
  });
  video.addEventListener("pause", function () {
    if (!stopped && !video.seeking && !video.ended) beat();
    sayState(true);
  });
  video.addEventListener("ended", function () { beat(video.duration || video.currentTime); sayState(true); });
  video.addEventListener("play", function () {
    if (stopped) { video.pause(); return; }
    if (checkToken) { video.pause(); dialog.showModal && !dialog.open && dialog.showModal(); return; }
    // Before the media is loaded (a play tapped while hls.js still positions it at the resume
    // point) currentTime is 0, not where playback will start: the seek that follows sets it.
    // After a pause at the same point the stretch goes on (its unacknowledged part is claimed
    // again with it).
    if (video.readyState >= 1 && Math.abs(video.currentTime - lastTime) > 0.5) {
      stretchStart = lastTime = video.currentTime;
      stretchGen += 1;
    }
    if (!mediaReady) {
      // Tapped before the playlist is attached: that play() may be cut short by the media's
      // load; ready() starts playback itself, so the first tap is never lost.
      playedEarly = true;
      say("视频正在加载，加载完成后自动开始播放…");
      return;
    }
    sayState(true);
  });
  setInterval(function () { if (!video.paused && !stopped && !retryTimer) beat(); }, HEARTBEAT);
  window.addEventListener("pagehide", function () {
    if (!session || stopped) return;
    if (!video.paused) beat(undefined, true);
    post("/api/learning/sessions/" + session.session + "/end", {}, true);
  });

  document.getElementById("fullscreen").addEventListener("click", function () {
    // The box, not the video, goes full screen so the watermark stays on top.
    if (document.fullscreenElement) document.exitFullscreen();
    else if (box.requestFullscreen) box.requestFullscreen();
  });

  // --- the moving watermark ------------------------------------------------------------------
  var mark = document.getElementById("watermark");
  function moveMark() {
    // Whole inside the picture at any width: the room left of the mark's own size.
    var roomX = Math.max(0, box.clientWidth - mark.offsetWidth - 8);
    var roomY = Math.max(0, box.clientHeight - mark.offsetHeight - 8);
    mark.style.left = Math.round(4 + Math.random() * roomX) + "px";
    mark.style.top = Math.round(4 + Math.random() * roomY) + "px";
  }
  moveMark();
  setInterval(moveMark, 8000);

  // --- start ------------------------------------------------------------------------------------
  // 点击播放 is said only once the media can take a play(): hls.js has attached its MediaSource
  // and parsed the playlist (MANIFEST_PARSED), or Safari's own HLS has read the metadata.
  var mediaReady = false, playedEarly = false, readyText = "点击播放开始学习。";
  function ready() {
    if (mediaReady) return;
    mediaReady = true;
    root.dataset.ready = "1";
    if (stopped) return;
    if (playedEarly && video.paused) {
      var started = video.play();
      if (started && started.catch) started.catch(function () { say(readyText); });
      return;
    }
    if (video.paused) say(readyText);
    else sayState(true);
  }

  function attach(url, resumeAt) {
    if (window.Hls && window.Hls.isSupported()) {
      if (hls) hls.destroy();
      hls = new window.Hls({enableWorker: true, startPosition: resumeAt});
      hls.on(window.Hls.Events.ERROR, function (_e, data) {
        if (!data.fatal) return;  // hls.js reports recoverable errors during normal playback
        if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR && !stopped) {
          // A signed URL may have expired (a long pause): fetch a freshly signed playlist.
          var at = video.currentTime;
          say("正在重新连接…", true);
          setTimeout(function () { if (!stopped) attach(url, at); }, 1500);
        } else if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
          hls.recoverMediaError();
        } else {
          stop("视频无法播放，请刷新页面重试。");
        }
      });
      hls.on(window.Hls.Events.MANIFEST_PARSED, ready);
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = url;  // Safari / iOS play HLS natively
      video.addEventListener("loadedmetadata", function () { video.currentTime = resumeAt; ready(); }, {once: true});
    } else {
      stop("您的浏览器不支持在线播放，请使用最新版的 Chrome、Edge、Safari 或微信浏览器。");
    }
  }

  persist(function () {
    return post(cfg.startUrl, {chapter_id: parseInt(cfg.chapter, 10)});
  }, function (res) {
    if (res.status !== 201) return refused(res);
    session = res.data;
    frontier = session.frontier;
    stretchStart = lastTime = session.resume_at;
    showProgress({frontier: session.frontier, watched_share: session.watched_share, completed: session.completed});
    if (session.resume_at > 0) readyText = "已为您定位到上次观看的位置，点击播放继续学习。";
    say("正在加载视频…");
    root.dataset.session = session.session;
    attach(session.playlist_url, session.resume_at);
  }, function () { say("学习计时服务暂时不可用，正在重新连接…", true); });
})();
