//! The OpenAPI 3.1 document of the wire (DESIGN §4): one `POST /v1/{operation}` per operation of
//! the list, with its scope's security requirement and the error body of every category.

use serde_json::{Value, json};

use super::{Operation, Scope, WIRE_VERSION};

/// The OpenAPI 3.1 document of every operation, as JSON (the reference service serves it at
/// `/openapi.json`).
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for operation in Operation::ALL {
        let security = match operation.scope() {
            Scope::Anonymous => json!([]),
            Scope::Session => json!([{ "session": [] }]),
            Scope::Staff => json!([{ "staff": [] }]),
            Scope::Network => json!([{ "network": [] }]),
        };
        paths.insert(
            format!("/v1/{}", operation.name()),
            json!({
                "post": {
                    "operationId": operation.name(),
                    "security": security,
                    "requestBody": {
                        "required": true,
                        "content": { "application/json": { "schema": { "type": "object" } } }
                    },
                    "responses": {
                        "200": {
                            "description": "The operation's output.",
                            "content": { "application/json": { "schema": {
                                "type": "object",
                                "required": ["wire_version", "operation", "output"],
                                "properties": {
                                    "wire_version": { "const": WIRE_VERSION },
                                    "operation": { "const": operation.name() },
                                    "output": {}
                                }
                            } } }
                        },
                        "default": {
                            "description": "An error of one of the categories.",
                            "content": { "application/json": { "schema": {
                                "$ref": "#/components/schemas/ErrorBody"
                            } } }
                        }
                    }
                }
            }),
        );
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "selfcare",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The use cases of the selfcare SDK over HTTP: POST /v1/{operation} with the operation's input as JSON."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": { "type": "http", "scheme": "bearer", "description": "A session token from login, complete_second_factor or api_login." },
                "staff": { "type": "http", "scheme": "bearer", "description": "A staff token the service maps to a staff identity." },
                "network": { "type": "http", "scheme": "bearer", "description": "The service's network token." }
            },
            "schemas": {
                "ErrorBody": {
                    "type": "object",
                    "required": ["wire_version", "error"],
                    "properties": {
                        "wire_version": { "type": "integer" },
                        "error": {
                            "type": "object",
                            "required": ["category", "reason_code", "message"],
                            "properties": {
                                "category": { "type": "string" },
                                "reason_code": { "type": "string" },
                                "message": { "type": "string" },
                                "field": { "type": "string" },
                                "retry_after": { "type": "integer", "minimum": 0 },
                                "kind": { "type": "string" },
                                "next_action": { "type": "object" }
                            }
                        }
                    }
                }
            }
        }
    })
}
