// Package ui serves OMFLOW's browser screens: login, home, service catalog,
// new-ticket forms, the inbox with live updates, task and ticket pages, ticket
// lists and administration. Pages are rendered on the server with
// html/template from embedded templates, in Japanese or English (per user,
// defaulting from Accept-Language), with dates in the user's time zone. The
// little JavaScript there is (static/app.js) only enhances: live inbox
// updates over server-sent events, keeping typed input in sessionStorage and
// submitting forms without losing it when the connection drops.
//
// The package knows nothing of HTTP routing outside "/": the REST API under
// /api/ and the session and CSRF machinery belong to package web, which hands
// the pages what they need through the interfaces in deps.go.
package ui
