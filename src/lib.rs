//! Vigie: the anonymous, end-to-end encrypted reporting channel of the AIMF
//! permanent secretariat.
#![forbid(unsafe_code)]

pub mod blocking;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod i18n;
pub mod jobs;
pub mod notify;
pub mod private_fs;
pub mod service;
pub mod startup;
pub mod telemetry;
pub mod web;
