/**
 * The float64 Cholesky factorisation and triangular inverse against ml-matrix's inverse.
 */
import { inverse, Matrix } from 'ml-matrix';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { choleskyLower, lowerTriangularInverse } from '../../src/linalg/cholesky.js';
import { addIdentity, assertClose, spd, useCpu } from '../helpers.js';

before(useCpu);

test('Cholesky and triangular inverse reproduce A^-1; non-PD input is reported, not NaN', () => {
  const n = 9;
  const a = addIdentity(spd(n, 30, 7), 0.1);
  const l = choleskyLower(Float64Array.from(a.flat()), n)!;
  assert.ok(l);
  const li = lowerTriangularInverse(l, n);
  const liM = new Matrix(
    Array.from({ length: n }, (_, r) => Array.from(li.subarray(r * n, (r + 1) * n))),
  );
  const inv = liM.transpose().mmul(liM).to2DArray().flat();
  assertClose(inv, inverse(new Matrix(a)).to2DArray().flat(), 1e-10, 'A^-1');
  const indefinite = a.map((row, i) => row.map((v, j) => (i === j && i === 3 ? -1 : v)));
  assert.equal(choleskyLower(Float64Array.from(indefinite.flat()), n), null);
});
