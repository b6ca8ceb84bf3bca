// Types every domain shares: scalars, Relay page info, roles.
export const commonTypeDefs = /* GraphQL */ `
  "An ISO-8601 UTC timestamp, e.g. 2026-01-31T12:00:00.000Z."
  scalar DateTime
  "Any JSON value."
  scalar JSON
  "A file sent with the GraphQL multipart request spec (curl -F)."
  scalar File

  "Relay connection page info. Lists are paged forward with first/after."
  type PageInfo {
    hasNextPage: Boolean!
    hasPreviousPage: Boolean!
    startCursor: String
    endCursor: String
  }

  enum Role {
    VIEWER
    DEVELOPER
    OPERATOR
    ADMIN
    GATEWAY
    RUNNER
  }

  type KeyValue {
    key: String!
    value: String!
  }

  input KeyValueInput {
    key: String!
    value: String!
  }

  "Who the bearer token belongs to."
  type Principal {
    tokenId: ID!
    name: String!
    role: Role!
  }

  type Query {
    "The caller's own identity."
    me: Principal!
  }
`;
