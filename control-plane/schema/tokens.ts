export const tokenTypeDefs = /* GraphQL */ `
  type Token {
    id: ID!
    name: String!
    role: Role!
    createdAt: DateTime!
    createdBy: String
    revokedAt: DateTime
    "Gateway scopes in effect (infer:*, infer:<model>, metrics, repository): explicit, or the role's defaults."
    scopes: [String!]!
    "Calls per second this token may make on each gateway; null: the gateway's --rate-limit."
    rateLimit: Float
    rateBurst: Int
  }

  type TokenEdge {
    node: Token!
    cursor: String!
  }

  type TokenConnection {
    edges: [TokenEdge!]!
    pageInfo: PageInfo!
  }

  input CreateTokenInput {
    name: String!
    role: Role!
    "Gateway scopes; omitted: the role's defaults (admin, operator, developer: infer:* and metrics; viewer: metrics)."
    scopes: [String!]
    "Per-token rate limit on gateways, calls per second (token bucket)."
    rateLimit: Float
    "Calls allowed at once after an idle spell (default: rateLimit rounded up)."
    rateBurst: Int
  }

  type CreateTokenPayload {
    token: Token!
    "The bearer secret. Shown only here, once; the control plane keeps only its hash."
    secret: String!
  }

  input RevokeTokenInput {
    id: ID!
  }

  extend type Query {
    tokens(first: Int, after: String): TokenConnection!
  }

  extend type Mutation {
    createToken(input: CreateTokenInput!): CreateTokenPayload!
    revokeToken(input: RevokeTokenInput!): Token!
  }
`;
