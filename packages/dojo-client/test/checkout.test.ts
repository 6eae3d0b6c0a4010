import t from 'tap'
import { checkoutUrlFor, DojoError, DojoErrorCodes, isDojoRefusal } from '../src/index.js'

t.test('checkoutUrlFor should use Dojo\'s link, else the checkout host of the API base', async (t) => {
  t.equal(checkoutUrlFor('https://api.dojo.tech', { id: 'pi_sandbox_abcdefghijkl', paymentLink: 'https://pay.dojo.tech/checkout/pi_sandbox_abcdefghijkl?x=1' }), 'https://pay.dojo.tech/checkout/pi_sandbox_abcdefghijkl?x=1')
  t.equal(checkoutUrlFor('https://api.dojo.tech', { id: 'pi_sandbox_abcdefghijkl' }), 'https://pay.dojo.tech/checkout/pi_sandbox_abcdefghijkl')
  t.equal(checkoutUrlFor('https://api.dojo.tech/', { id: 'pi_abcdefghijkl', paymentLink: '/checkout/pi_abcdefghijkl' }), 'https://pay.dojo.tech/checkout/pi_abcdefghijkl', 'a relative link is not a link')
  t.equal(checkoutUrlFor('http://127.0.0.1:4010', { id: 'pi_sandbox_abcdefghijkl' }), 'http://127.0.0.1:4010/checkout/pi_sandbox_abcdefghijkl', 'an emulator serves its own checkout')
})

t.test('isDojoRefusal should tell a definite refusal from an unknown outcome', async (t) => {
  for (const code of [DojoErrorCodes.validation, DojoErrorCodes.unauthorized, DojoErrorCodes.request, DojoErrorCodes.invalidInput, DojoErrorCodes.conflict, DojoErrorCodes.notFound, DojoErrorCodes.config]) {
    t.ok(isDojoRefusal(new DojoError(code, 'no')), code)
  }
  for (const code of [DojoErrorCodes.unavailable, DojoErrorCodes.timeout, DojoErrorCodes.response, DojoErrorCodes.closed]) {
    t.notOk(isDojoRefusal(new DojoError(code, 'maybe')), code)
  }
  t.notOk(isDojoRefusal(new Error('socket hang up')), 'not the client\'s error')
  t.notOk(isDojoRefusal(undefined))
})
