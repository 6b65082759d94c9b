//! The `junction` binary's integration tests, in one test binary (each test binary links the whole
//! stack again): `admin rotate-key`, bulk jobs killed mid-run (`bulk_resume`), `serve --sandbox`, two nodes on one PostgreSQL database,
//! three nodes killed in turn under load (`soak`, ignored: minutes long),
//! `junction sql` against the simulator (`sql_cli`), and the web console end to end in headless
//! Chromium (`console_browser`).

mod common;

mod admin;
mod bulk_resume;
mod common_resources;
mod console_browser;
mod events;
mod formulas;
mod multi_node;
mod serve;
mod soak;
mod sql_cli;
mod sql_instance;
mod sql_sign_in;
