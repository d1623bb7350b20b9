module.exports = { ...require('../../../jest.preset.js'), displayName: 'shared-progress', rootDir: __dirname };
