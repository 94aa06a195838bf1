// Article and insights pages: the print button and copy buttons (scripts are external only,
// see the Content-Security-Policy).
"use strict";

for (const button of document.querySelectorAll("[data-print]")) {
  button.addEventListener("click", () => window.print());
}

// A button with data-copy="ID" copies the text of element ID (the insights page's 复制补丁).
async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the older way
  }
  // Plain-HTTP intranet hosts have no async clipboard API: copy from a selected textarea.
  const scratch = document.createElement("textarea");
  scratch.value = text;
  scratch.setAttribute("readonly", "");
  scratch.className = "clipboard-scratch";
  document.body.append(scratch);
  scratch.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  scratch.remove();
  return ok;
}

for (const button of document.querySelectorAll("[data-copy]")) {
  const label = button.textContent;
  button.addEventListener("click", async () => {
    const source = document.getElementById(button.dataset.copy);
    const ok = source ? await copyText(source.textContent) : false;
    button.textContent = ok ? "已复制" : "复制失败，请选中文字后按 Ctrl+C";
    setTimeout(() => { button.textContent = label; }, 3000);
  });
}
