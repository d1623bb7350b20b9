module.exports = { ...require('../../../jest.preset.js'), displayName: 'legacy-domain', rootDir: __dirname };
