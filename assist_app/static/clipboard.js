// Copy text to the clipboard, for the console and the article and insights pages (scripts are
// external only, see the Content-Security-Policy). Resolves to whether the copy happened.
"use strict";

window.writeClipboard = async function writeClipboard(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the older way
  }
  // Plain-HTTP intranet hosts have no async clipboard API: copy from a selected textarea, then
  // give the focus back to where the agent was typing.
  const focused = document.activeElement;
  const scratch = document.createElement("textarea");
  scratch.value = text;
  scratch.setAttribute("readonly", "");
  scratch.setAttribute("aria-hidden", "true");
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
  if (focused && focused.focus) focused.focus();
  return ok;
};
