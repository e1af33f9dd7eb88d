/* Staff lists on a phone: below 768 px static/css/staff.css shows each row of a changelist as a
   card, one "label: value" line per column. The labels are the column headers, copied here onto
   each cell (data-label), so no column is cut off at the right edge of a narrow screen. */
(function () {
  "use strict";
  function labelTable(table) {
    var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
      return th.textContent.replace(/\s+/g, " ").trim();
    });
    Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (tr) {
      Array.prototype.forEach.call(tr.children, function (cell, i) {
        if (heads[i]) cell.setAttribute("data-label", heads[i]);
      });
    });
  }
  function label() {
    Array.prototype.forEach.call(document.querySelectorAll("#result_list, table.staff-cards"), labelTable);
  }
  // The export list is replaced every 2 s while a job runs (htmx): label the new table too.
  document.addEventListener("htmx:afterSwap", label);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", label);
  else label();
})();
