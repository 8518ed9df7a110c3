pub mod environment;
pub mod state_backend;
