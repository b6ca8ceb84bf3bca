// Registry signing key rotation (issue 18): docs/registry-key.md.
export const registryKeyTypeDefs = /* GraphQL */ `
  "A rotation of the registry signing key: the old key signed a statement naming the new one."
  type SigningKeyRotation {
    previousKeyId: String!
    keyId: String!
    publicKeyPem: String!
    "Until then gateways still accept statements signed by the previous key."
    overlapUntil: DateTime!
    "Version statements signed again with the new key."
    resignedVersions: Int!
  }

  extend type DesiredState {
    "Rotation statements (compact JWS, oldest first), each signed by the key before it: gateways follow them from their pinned key."
    signingKeyChain: [String!]!
  }

  extend type Mutation {
    "Admins: make a new registry signing key, chained from the current one; everything is signed again with it (audited as registry_key.rotate)."
    rotateSigningKey(overlapSeconds: Int): SigningKeyRotation!
  }
`;
