module.exports = { ...require('../../../jest.preset.js'), displayName: 'shared-nest', rootDir: __dirname };
