// 实名注册 (templates/accounts/register.html): after a code is sent, the button counts down the
// resend interval given in its data-resend-seconds (the server enforces the interval too).
(function () {
  "use strict";
  document.body.addEventListener("htmx:afterRequest", function (e) {
    var btn = document.getElementById("send-code");
    if (!btn || e.detail.elt !== btn || e.detail.xhr.status !== 200) return;
    var left = parseInt(btn.getAttribute("data-resend-seconds"), 10) || 60;
    btn.disabled = true;
    var timer = setInterval(function () {
      left -= 1;
      btn.textContent = left > 0 ? left + " 秒后重新获取" : "获取验证码";
      if (left <= 0) { clearInterval(timer); btn.disabled = false; }
    }, 1000);
  });
})();
