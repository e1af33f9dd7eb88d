/* Payment channels by device: the server offers the phone channels (Alipay mobile website, WeChat
 * H5) or the computer ones (Alipay computer website, WeChat QR code) by the user agent; when the
 * screen says otherwise (a phone asking for the desktop site, a narrow window) the page shows the
 * other set. A QR code is never offered on a phone-sized screen. */
(function () {
  "use strict";
  document.querySelectorAll("[data-phone-max]").forEach(function (box) {
    var max = parseInt(box.dataset.phoneMax, 10) || 600;
    var phone = window.matchMedia("(max-width: " + max + "px)").matches;
    var want = phone ? "phone" : "pc";
    var options = box.querySelectorAll("[data-pay-device]");
    var shown = Array.prototype.filter.call(options, function (o) { return !o.hidden; });
    if (!shown.length || shown[0].dataset.payDevice === want) return;
    var firstChecked = false;
    options.forEach(function (o) {
      var on = o.dataset.payDevice === want;
      o.hidden = !on;
      var input = o.matches("input, button") ? o : o.querySelector("input, button");
      if (!input) return;
      input.disabled = !on;
      if (input.type === "radio") {
        input.checked = on && !firstChecked;
        if (on) firstChecked = true;
      }
    });
  });
})();
