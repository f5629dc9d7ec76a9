// sigstore-js (@sigstore/sign 5.1.0, @sigstore/verify 4.1.3) signing and
// verifying end to end against islet's Rekor v2 log and timestamp authority.
//
// The witnesses come from @sigstore/sign's own `bundleBuilderFromSigningConfig`
// fed with the signing config `islet trust-root --signing-config` printed: a
// `RekorWitness` with majorApiVersion 2 for the log and a `TSAWitness` for the
// TSA (which sends the JSON form, {"artifactHash", "hashAlgorithm"}). The
// Fulcio signer that function also builds is not used: there is no Fulcio
// here. The signer is a `Signer` of our own that signs with a P-256 key whose
// certificate the test's site CA issued (Fulcio-like, with an embedded SCT;
// see ../python/sigstore_tsa_flow.py), and returns that certificate as the key
// material, as FulcioSigner does. The bundle is put together by
// `MessageSignatureBundleBuilder`, serialised with @sigstore/bundle, read back,
// and verified with @sigstore/verify's `Verifier` over `toTrustMaterial` of the
// trusted root from the same ClientTrustConfig, with a policy on the SAN and
// the OIDC issuer.
//
// Usage: node sigstore_js_flow.js CLIENT_TRUST_CONFIG KEY_PEM CERT_PEM
//          IDENTITY ISSUER OUTDIR OTHER_TSA_URL
// Writes OUTDIR/bundle-js.sigstore.json, OUTDIR/artifact-js and, for the
// negative case, OUTDIR/bundle-js-foreign-tsa.sigstore.json and
// OUTDIR/artifact-js-foreign-tsa. Prints one JSON line of results; exits
// non-zero with the reason on any unexpected outcome.

'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const { bundleFromJSON, bundleToJSON } = require('@sigstore/bundle');
const { SigningConfig, TrustedRoot } = require('@sigstore/protobuf-specs');
const {
  MessageSignatureBundleBuilder,
  RekorWitness,
  TSAWitness,
  bundleBuilderFromSigningConfig,
} = require('@sigstore/sign');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

function fail(reason) {
  process.stderr.write(`sigstore_js_flow: ${reason}\n`);
  process.exit(1);
}

// A Signer (the @sigstore/sign interface): ECDSA P-256 over SHA-256 of the
// data, DER signature, and the certificate as key material.
function certificateSigner(keyPem, certPem) {
  const key = crypto.createPrivateKey(keyPem);
  return {
    sign: async (data) => ({
      signature: crypto.sign('sha256', data, key),
      key: { $case: 'x509Certificate', certificate: certPem },
    }),
  };
}

// The log entry's verifier, read from its canonicalized body.
function loggedVerifier(bundle) {
  const entry = bundle.verificationMaterial.tlogEntries[0];
  const body = JSON.parse(Buffer.from(entry.canonicalizedBody).toString('utf8'));
  const verifier = body.spec.hashedRekordV002.signature.verifier;
  return Object.keys(verifier).filter((k) => k !== 'keyDetails')[0];
}

function verify(trustMaterial, json, artifact, policy) {
  const entity = toSignedEntity(bundleFromJSON(json), artifact);
  return new Verifier(trustMaterial).verify(entity, policy);
}

async function main() {
  const [configPath, keyPath, certPath, identity, issuer, outdir, otherTsaUrl] =
    process.argv.slice(2);
  if (!otherTsaUrl) {
    fail('usage: sigstore_js_flow.js CONFIG KEY CERT IDENTITY ISSUER OUTDIR OTHER_TSA_URL');
  }
  const config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
  const signingConfig = SigningConfig.fromJSON(config.signingConfig);
  const trustedRoot = TrustedRoot.fromJSON(config.trustedRoot);
  const signer = certificateSigner(
    fs.readFileSync(keyPath, 'utf8'),
    fs.readFileSync(certPath, 'utf8'),
  );

  // sigstore-js's own reading of islet's signing config: it requires
  // tsaConfig with selector ANY, and picks the Rekor v2 log and the TSA.
  const fromConfig = bundleBuilderFromSigningConfig({
    signingConfig,
    identityProvider: {
      getToken: async () => fail('the Fulcio signer must not be called'),
    },
    bundleType: 'messageSignature',
    fetchOptions: { timeout: 20000, retry: { retries: 0 } },
  });
  const witnesses = fromConfig.witnesses;
  const rekor = witnesses.find((w) => w instanceof RekorWitness);
  const tsa = witnesses.find((w) => w instanceof TSAWitness);
  if (witnesses.length !== 2 || !rekor || !tsa) {
    fail(`expected a RekorWitness and a TSAWitness from the signing config, got ${witnesses.length} witnesses`);
  }
  if (rekor.majorApiVersion !== 2) {
    fail(`the RekorWitness speaks Rekor v${rekor.majorApiVersion}, not v2`);
  }

  const result = { tsa_url: signingConfig.tsaUrls[0].url, accepted: [], refused: {} };
  const trustMaterial = toTrustMaterial(trustedRoot);
  const policy = { subjectAlternativeName: identity, extensions: { issuer } };

  const artifact = Buffer.from('islet TSA interop artifact (sigstore-js)\n');
  const bundle = await new MessageSignatureBundleBuilder({ signer, witnesses }).create({
    data: artifact,
  });
  const timestamps = bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps;
  if (timestamps.length !== 1) {
    fail(`expected one RFC 3161 timestamp in the bundle, got ${timestamps.length}`);
  }
  result.media_type = bundle.mediaType;
  result.logged_verifier = loggedVerifier(bundle);
  const json = bundleToJSON(bundle);
  fs.writeFileSync(path.join(outdir, 'bundle-js.sigstore.json'), JSON.stringify(json));
  fs.writeFileSync(path.join(outdir, 'artifact-js'), artifact);

  // From the file, as a verifier would get it.
  const fromFile = JSON.parse(fs.readFileSync(path.join(outdir, 'bundle-js.sigstore.json'), 'utf8'));
  verify(trustMaterial, fromFile, artifact, policy);
  result.accepted.push('js');

  // The policy is checked.
  try {
    verify(trustMaterial, fromFile, artifact, { ...policy, subjectAlternativeName: 'someone-else@islet.test' });
    fail('the bundle verified for a SAN it was not issued to');
  } catch (e) {
    result.refused['js-other-identity'] = `${e.code || e.name}: ${e.message}`;
  }
  // So is the artifact.
  try {
    verify(trustMaterial, fromFile, Buffer.from('another artifact\n'), policy);
    fail('the bundle verified for another artifact');
  } catch (e) {
    result.refused['js-other-artifact'] = `${e.code || e.name}: ${e.message}`;
  }

  // A timestamp from a TSA the trusted root does not hold: refused.
  const foreignTsa = new TSAWitness({ tsaBaseURL: otherTsaUrl, timeout: 20000, retry: { retries: 0 } });
  const foreignArtifact = Buffer.from('islet TSA interop artifact (sigstore-js, foreign TSA)\n');
  const foreign = await new MessageSignatureBundleBuilder({
    signer,
    witnesses: [rekor, foreignTsa],
  }).create({ data: foreignArtifact });
  const foreignJson = bundleToJSON(foreign);
  fs.writeFileSync(path.join(outdir, 'bundle-js-foreign-tsa.sigstore.json'), JSON.stringify(foreignJson));
  fs.writeFileSync(path.join(outdir, 'artifact-js-foreign-tsa'), foreignArtifact);
  try {
    verify(trustMaterial, foreignJson, foreignArtifact, policy);
    fail('a bundle timestamped by a TSA outside the trusted root verified');
  } catch (e) {
    result.refused['js-foreign-tsa'] = `${e.code || e.name}: ${e.message}`;
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
