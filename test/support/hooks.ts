// Mocha root hooks; the testbed registers process cleanup here.
export const mochaHooks = {};
