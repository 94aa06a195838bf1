// Article and insights pages: the print button and copy buttons (scripts are external only,
// see the Content-Security-Policy).
"use strict";

for (const button of document.querySelectorAll("[data-print]")) {
  button.addEventListener("click", () => window.print());
}

// A button with data-copy="ID" copies the text of element ID (the insights page's 复制补丁).
for (const button of document.querySelectorAll("[data-copy]")) {
  const label = button.textContent;
  button.addEventListener("click", async () => {
    const source = document.getElementById(button.dataset.copy);
    const ok = source ? await window.writeClipboard(source.textContent) : false;
    button.textContent = ok ? "已复制" : "复制失败，请选中文字后按 Ctrl+C";
    setTimeout(() => { button.textContent = label; }, 3000);
  });
}
