//! Use cases: what the application does, outside the web layer. A handler
//! parses its request, calls one function here, and renders the outcome.

pub mod workflow;
