export const residencyTypeDefs = /* GraphQL */ `
  extend type Model {
    "Regions the model may be served and trained in (gateways' and runners' region); null: anywhere."
    allowedRegions: [String!]
  }

  input SetModelRegionsInput {
    model: String!
    "Lower-case region names (eu, uae, us-east, ...); null lifts the restriction. An empty list keeps the model everywhere out."
    regions: [String!]
  }

  extend type Mutation {
    "Restrict where a model is served (gateways' desired state, artifact downloads) and trained (runner claims). Operators and admins."
    setModelRegions(input: SetModelRegionsInput!): Model!
  }
`;
