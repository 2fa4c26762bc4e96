import { ensureChromium, INSTALL_COMMAND } from '../helpers/chromium';

/** npm test finds or installs Chromium by itself, or stops at once saying how to get one. */
test('a Chromium already there is used without installing anything', () => {
  const install = jest.fn();
  expect(ensureChromium({ env: { CHROMIUM_PATH: process.execPath }, install })).toBe(process.execPath);
  expect(install).not.toHaveBeenCalled();
});

test('a missing Chromium is installed; one that still cannot be found stops the run naming the command', () => {
  const install = jest.fn();
  expect(() => ensureChromium({ env: { CHROMIUM_PATH: '/nonexistent/chromium' }, install })).toThrow(INSTALL_COMMAND);
  expect(install).toHaveBeenCalledTimes(1);
  const failing = jest.fn(() => {
    throw new Error('apt-get: permission denied');
  });
  expect(() => ensureChromium({ env: { CHROMIUM_PATH: '/nonexistent/chromium' }, install: failing })).toThrow(/run scripts\/install-chromium\.sh \(as root\)/);
});
