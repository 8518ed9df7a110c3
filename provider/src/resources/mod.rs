pub mod state_backend;
