import {
  canonicalizeRpcParams,
  percentEncode,
  rpcSignatureMatches,
  rpcStringToSign,
  signRpcParams,
  signedRpcQuery,
} from '../../sandbox/rpc-signature';

// The worked example from Alibaba Cloud's RPC signature documentation (ECS DescribeRegions, secret "testsecret").
const documentedParams = {
  AccessKeyId: 'testid',
  Action: 'DescribeRegions',
  Format: 'XML',
  SignatureMethod: 'HMAC-SHA1',
  SignatureNonce: '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf',
  SignatureVersion: '1.0',
  Timestamp: '2016-02-23T12:46:24Z',
  Version: '2014-05-26',
};

describe('rpc-signature', () => {
  test('percentEncode escapes what encodeURIComponent leaves alone and uses %20 for spaces', () => {
    expect(percentEncode("a b!'()*~-_.")).toBe('a%20b%21%27%28%29%2A~-_.');
    expect(percentEncode('example.com\n_2023.gz')).toBe('example.com%0A_2023.gz');
  });

  test('the string to sign matches the documented example', () => {
    expect(rpcStringToSign('GET', documentedParams)).toBe(
      'GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1' +
        '%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0' +
        '%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26',
    );
  });

  test('the signature matches the documented example', () => {
    expect(signRpcParams('GET', documentedParams, 'testsecret')).toBe('OLeaidS1JvxuMvnyHOwuJ+uX5qY=');
  });

  test('Signature itself is left out of the canonical query and keys are sorted', () => {
    expect(canonicalizeRpcParams({ b: '2', Signature: 'x', a: '1', B: '3' })).toBe('B=3&a=1&b=2');
  });

  test('the method is part of what is signed', () => {
    expect(signRpcParams('POST', documentedParams, 'testsecret')).not.toBe(
      signRpcParams('GET', documentedParams, 'testsecret'),
    );
  });

  test('rpcSignatureMatches accepts the right signature and rejects a wrong secret or a truncated one', () => {
    const signature = signRpcParams('POST', documentedParams, 'testsecret');
    expect(rpcSignatureMatches('POST', documentedParams, 'testsecret', signature)).toBe(true);
    expect(rpcSignatureMatches('POST', documentedParams, 'other', signature)).toBe(false);
    expect(rpcSignatureMatches('POST', documentedParams, 'testsecret', signature.slice(1))).toBe(false);
  });

  test('signedRpcQuery appends the encoded signature after the canonical query', () => {
    const query = signedRpcQuery('GET', documentedParams, 'testsecret');
    expect(query).toBe(`${canonicalizeRpcParams(documentedParams)}&Signature=OLeaidS1JvxuMvnyHOwuJ%2BuX5qY%3D`);
  });
});
