//! The phone page behind a signature-capture link: a canvas to write on,
//! which uploads the drawing through `submitSignatureCapture`. The page is
//! static; the capture id comes from the path and the token from the URL
//! fragment, which browsers never send to a server.

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

const PAGE: &str = r##"<!doctype html>
<html lang="zh-CN">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, maximum-scale=1">
<title>手写签名采集</title>
<style>
  body { font-family: sans-serif; margin: 0; padding: 12px; background: #f5f5f5; }
  canvas { width: 100%; aspect-ratio: 2 / 1; background: #fff; border: 1px solid #999; touch-action: none; }
  button { font-size: 18px; padding: 10px 24px; margin: 12px 8px 0 0; }
  #status { margin-top: 12px; }
</style>
<body>
<h1>手写签名采集</h1>
<p>请在下方区域用手指书写您的姓名，完成后点击“提交”。</p>
<canvas id="pad" width="800" height="400"></canvas>
<div><button id="clear">清除</button><button id="submit">提交</button></div>
<p id="status"></p>
<script>
(function () {
  var id = decodeURIComponent(location.pathname.split("/").pop());
  var token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
  var pad = document.getElementById("pad");
  var ink = pad.getContext("2d");
  var status = document.getElementById("status");
  var drawing = false, strokes = 0;
  ink.lineWidth = 8; ink.lineCap = "round"; ink.lineJoin = "round"; ink.strokeStyle = "#000";
  function at(e) {
    var r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
  }
  pad.addEventListener("pointerdown", function (e) { drawing = true; strokes++; var p = at(e); ink.beginPath(); ink.moveTo(p[0], p[1]); });
  pad.addEventListener("pointermove", function (e) { if (!drawing) return; var p = at(e); ink.lineTo(p[0], p[1]); ink.stroke(); });
  ["pointerup", "pointerleave", "pointercancel"].forEach(function (t) { pad.addEventListener(t, function () { drawing = false; }); });
  document.getElementById("clear").onclick = function () { ink.clearRect(0, 0, pad.width, pad.height); strokes = 0; status.textContent = ""; };
  document.getElementById("submit").onclick = function () {
    if (!strokes) { status.textContent = "请先书写签名。"; return; }
    status.textContent = "正在提交……";
    pad.toBlob(function (png) {
      var form = new FormData();
      form.append("operations", JSON.stringify({
        query: "mutation($c: ID!, $t: String!, $i: Upload!) { submitSignatureCapture(captureId: $c, token: $t, image: $i) { id } }",
        variables: { c: id, t: token, i: null }
      }));
      form.append("map", JSON.stringify({ "0": ["variables.i"] }));
      form.append("0", png, "signature.png");
      fetch("/graphql", { method: "POST", headers: { "apollo-require-preflight": "true" }, body: form })
        .then(function (r) { return r.json(); })
        .then(function (r) {
          if (!r.errors) { status.textContent = "签名已提交，请回到电脑端继续操作。"; return; }
          var code = (r.errors[0].extensions || {}).code;
          status.textContent = {
            NOT_FOUND: "链接无效，请在电脑端重新生成二维码。",
            CONFLICT: "链接已使用或已过期，请在电脑端重新生成二维码。",
            BAD_USER_INPUT: "签名图片无效，请清除后重新书写。"
          }[code] || "提交失败，请重试。";
        })
        .catch(function () { status.textContent = "网络错误，请重试。"; });
    }, "image/png");
  };
})();
</script>
</body>
</html>
"##;

pub async fn page() -> Response {
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' blob: data:",
            ),
        ],
        Html(PAGE),
    )
        .into_response()
}
