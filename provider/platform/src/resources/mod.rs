pub mod cluster_services;
pub mod environment;
pub mod frontend;
pub mod helm_release;
pub mod microservice;
pub mod organization;
pub mod registry;
pub mod state_backend;
