export const tokenTypeDefs = /* GraphQL */ `
  type Token {
    id: ID!
    name: String!
    role: Role!
    createdAt: DateTime!
    createdBy: String
    revokedAt: DateTime
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
