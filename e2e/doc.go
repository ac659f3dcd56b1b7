// Package e2e holds the browser tests: headless Chromium, driven with
// chromedp, against the whole server stack (SQLite, flow engine, REST API,
// pages) started in-process by package uitest. It also regenerates the
// screenshots under docs/screenshots (OMFLOW_SCREENSHOTS=1 go test ./e2e
// -run Screenshots, or make screenshots).
//
// The tests need Chromium: /usr/bin/chromium, or the path in
// OMFLOW_CHROMIUM. Without it they are skipped, except in CI (CI=true) and
// when OMFLOW_E2E=require, where a missing browser fails them.
package e2e
